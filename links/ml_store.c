/*
 * ml_store.c - what every database engine shares: naming a database by its
 * location, schema versions and upgrades, validating links before they are
 * written, writing a link's row with its tags and rules as one, random
 * slugs, gathering tags and rules for the links read, and reading the
 * change log.  The SQL is the engines' (ml_store_engine.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>
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
    if (version < 1) {
        return ml_store_fail(store, "%s: schema version %" APR_INT64_T_FMT
                             " is not one this minilink knows", store->label,
                             version);
    }
    store->schema = (int)version;
    return APR_SUCCESS;
}

int ml_store_schema(const ml_store *store)
{
    return store->schema;
}

apr_status_t ml_store_upgrade(ml_store *store, int *from)
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
    *from = (int)version;
    /* One step a version, in order, all in this one transaction; the
     * statements prepared for the old schema go first. */
    if (rv == APR_SUCCESS && version < ML_STORE_SCHEMA_VERSION) {
        store->engine->forget_prepared(store);
    }
    for (; rv == APR_SUCCESS && version < ML_STORE_SCHEMA_VERSION; version++) {
        const char *const *group = store->engine->steps[version - 1];
        char doing[64];
        apr_snprintf(doing, sizeof(doing), "upgrading the schema to version %d",
                     (int)version + 1);
        for (; rv == APR_SUCCESS && *group; group++) {
            rv = store->engine->exec_sql(store, *group, doing);
        }
    }
    if (rv != APR_SUCCESS) {
        store->engine->rollback(store);
        return rv;
    }
    if ((rv = store->engine->commit(store)) == APR_SUCCESS) {
        store->schema = ML_STORE_SCHEMA_VERSION;
    }
    return rv;
}

/* Links are written only to the current schema: an older one has no
 * place for the newer fields, and upgrading it is one command. */
static apr_status_t schema_writable(ml_store *store)
{
    if (store->schema < ML_STORE_SCHEMA_VERSION) {
        return ml_store_fail(store, "%s: schema version %d is older than the "
                             "%d this minilink writes; run 'minilink --db "
                             "%s upgrade' first", store->label, store->schema,
                             ML_STORE_SCHEMA_VERSION, store->label);
    }
    return APR_SUCCESS;
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

/* Runs body() in a write transaction of its own, unless the caller has
 * one open (ml_store_write_begin), so that a link's row, tags and rules
 * are written together or not at all. */
static apr_status_t in_write(ml_store *store,
                             apr_status_t (*body)(ml_store *, void *),
                             void *ctx)
{
    apr_status_t rv;

    if (store->in_write) {
        return body(store, ctx);
    }
    if ((rv = store->engine->begin(store, ML_TXN_WRITE)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = body(store, ctx)) != APR_SUCCESS) {
        store->engine->rollback(store);
        return rv;
    }
    return store->engine->commit(store);
}

static int has_extras(const ml_link *link)
{
    return (link->tags && link->tags->nelts) || link->nrules;
}

/* The row, then the tags and rules (which need its id). */
static apr_status_t insert_link(ml_store *store, void *ctx)
{
    ml_link *link = ctx;
    apr_status_t rv = store->engine->insert(store, link);

    return rv == APR_SUCCESS && has_extras(link)
           ? store->engine->write_extras(store, link, 1) : rv;
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
    if ((rv = schema_writable(store)) != APR_SUCCESS) {
        return rv;
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
            rv = in_write(store, insert_link, link);
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

    if (rv == APR_SUCCESS) {
        rv = schema_writable(store);
    }
    return rv ? rv : in_write(store, insert_link, link);
}

apr_status_t ml_store_add_group(ml_store *store, const ml_link *links,
                                const int *restored, apr_size_t count,
                                apr_size_t *failed)
{
    apr_int64_t *ids;
    apr_pool_t *pool;
    apr_status_t rv;
    apr_size_t i;

    if ((rv = schema_writable(store)) != APR_SUCCESS) {
        *failed = 0;
        return rv;
    }
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
    if (count == 0) {
        return APR_SUCCESS;
    }
    apr_pool_create(&pool, NULL);
    ids = apr_palloc(pool, count * sizeof(*ids));
    rv = store->engine->insert_group(store, links, count, ids, failed);
    /* Tags and rules, for the few links that have any, one at a time. */
    for (i = 0; rv == APR_SUCCESS && i < count; i++) {
        if (has_extras(&links[i])) {
            ml_link link = links[i];
            link.id = ids[i];
            if ((rv = store->engine->write_extras(store, &link, 1))) {
                *failed = i;
            }
        }
    }
    apr_pool_destroy(pool);
    return rv;
}

/* Whether two lists of tags, or of rules, say the same. */
static int same_tags(const apr_array_header_t *a, const apr_array_header_t *b)
{
    int n = a ? a->nelts : 0, i;

    if (n != (b ? b->nelts : 0)) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(APR_ARRAY_IDX(a, i, const char *),
                   APR_ARRAY_IDX(b, i, const char *)) != 0) {
            return 0;
        }
    }
    return 1;
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int same_rules(const ml_link *a, const ml_link *b)
{
    int i, k;

    if (a->nrules != b->nrules) {
        return 0;
    }
    for (i = 0; i < a->nrules; i++) {
        const ml_rule *x = &a->rules[i], *y = &b->rules[i];
        if (strcmp(x->url, y->url) != 0 || x->nconditions != y->nconditions) {
            return 0;
        }
        for (k = 0; k < x->nconditions; k++) {
            const ml_condition *p = &x->conditions[k], *q = &y->conditions[k];
            if (p->type != q->type || !same_text(p->key, q->key)
                || !same_text(p->value, q->value)) {
                return 0;
            }
        }
    }
    return 1;
}

typedef struct {
    const ml_link *link;
    apr_pool_t *pool;
} update_job;

static apr_status_t update_link(ml_store *store, void *ctx)
{
    update_job *job = ctx;
    ml_link current, changed = *job->link;
    apr_status_t rv = store->engine->get(store, changed.slug, &current, NULL,
                                         job->pool);

    if (rv == APR_SUCCESS) {
        rv = store->engine->update(store, &changed);
    }
    if (rv == APR_SUCCESS && !(same_tags(current.tags, changed.tags)
                               && same_rules(&current, &changed))) {
        changed.id = current.id;
        rv = store->engine->write_extras(store, &changed, 0);
    }
    return rv;
}

apr_status_t ml_store_update(ml_store *store, const ml_link *link)
{
    update_job job = { link, NULL };
    apr_status_t rv = validate(store, link);

    if (rv == APR_SUCCESS && (rv = schema_writable(store)) == APR_SUCCESS) {
        apr_pool_create(&job.pool, NULL);
        rv = in_write(store, update_link, &job);
        apr_pool_destroy(job.pool);
    }
    return rv;
}

apr_status_t ml_store_find_url(ml_store *store, const char *url,
                               apr_int64_t now, ml_link *link,
                               apr_pool_t *pool)
{
    return store->engine->find_url(store, url, now, link, pool);
}

apr_status_t ml_store_write_begin(ml_store *store)
{
    apr_status_t rv = store->engine->begin(store, ML_TXN_WRITE);

    store->in_write = rv == APR_SUCCESS;
    return rv;
}

apr_status_t ml_store_write_commit(ml_store *store)
{
    store->in_write = 0;
    return store->engine->commit(store);
}

void ml_store_write_rollback(ml_store *store)
{
    store->in_write = 0;
    store->engine->rollback(store);
}

apr_status_t ml_store_remove(ml_store *store, const char *slug)
{
    apr_status_t rv = schema_writable(store);

    return rv ? rv : store->engine->remove(store, slug);
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

apr_status_t ml_store_each_limited(ml_store *store, ml_store_limited_fn *limited,
                                   void *ctx)
{
    return store->schema >= 2
           ? store->engine->each_limited(store, limited, ctx) : APR_SUCCESS;
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

static apr_status_t visits_usable(ml_store *store);

/* ---- listing ------------------------------------------------------------- */

/* A condition and its parameters, as they are added. */
typedef struct {
    apr_pool_t *pool;
    const char *where;
    apr_array_header_t *params;       /* ml_store_param */
} list_filter;

static void add_condition(list_filter *filter, const char *condition)
{
    filter->where = *filter->where
                    ? apr_pstrcat(filter->pool, filter->where, " AND ",
                                  condition, NULL)
                    : condition;
}

static void add_text(list_filter *filter, const char *text)
{
    ml_store_param *param = apr_array_push(filter->params);

    param->text = text;
    param->number = 0;
}

static void add_number(list_filter *filter, apr_int64_t number)
{
    ml_store_param *param = apr_array_push(filter->params);

    param->text = NULL;
    param->number = number;
}

/* "%term%" for LIKE ... ESCAPE '\', lower-cased (the columns are compared
 * lower-cased: SQLite's LIKE ignores ASCII case and PostgreSQL's does
 * not, so both are told the same); the term's own % _ \ match themselves. */
static const char *like_pattern(apr_pool_t *pool, const char *term)
{
    char *pattern = apr_palloc(pool, strlen(term) * 2 + 3), *out = pattern;

    *out++ = '%';
    for (; *term; term++) {
        if (*term == '%' || *term == '_' || *term == '\\') {
            *out++ = '\\';
        }
        *out++ = (*term >= 'A' && *term <= 'Z') ? (char)(*term - 'A' + 'a')
                                                : *term;
    }
    *out++ = '%';
    *out = '\0';
    return pattern;
}

/* The tags' names as "?, ?, ..." with their parameters. */
static const char *tag_names(list_filter *filter,
                             const ml_store_list_query *query)
{
    char *marks = apr_palloc(filter->pool, (apr_size_t)query->ntags * 3 + 1);
    int i;

    marks[0] = '\0';
    for (i = 0; i < query->ntags; i++) {
        strcat(marks, i ? ", ?" : "?");
        add_text(filter, query->tags[i]);
    }
    return marks;
}

#define TAGS_OF_LINK \
    "SELECT lt.link_id FROM link_tags lt JOIN tags t ON t.id = lt.tag_id" \
    " WHERE t.name IN ("

/* The WHERE of a listing, in the open database's schema. */
static void list_where(ml_store *store, const ml_store_list_query *query,
                       list_filter *filter)
{
    apr_int64_t now = query->now ? query->now : apr_time_sec(apr_time_now());

    if (query->search && *query->search) {
        const char *pattern = like_pattern(filter->pool, query->search);
        /* A tag's name is searched too, as Shlink does. */
        add_condition(filter, store->schema >= 2
            ? "(lower(slug) LIKE ? ESCAPE '\\' OR lower(url) LIKE ? ESCAPE '\\'"
              " OR lower(title) LIKE ? ESCAPE '\\' OR id IN (SELECT lt.link_id"
              " FROM link_tags lt JOIN tags t ON t.id = lt.tag_id"
              " WHERE lower(t.name) LIKE ? ESCAPE '\\'))"
            : "(lower(slug) LIKE ? ESCAPE '\\' OR lower(url) LIKE ? ESCAPE '\\')");
        add_text(filter, pattern);
        add_text(filter, pattern);
        if (store->schema >= 2) {
            add_text(filter, pattern);
            add_text(filter, pattern);
        }
    }
    if (query->ntags > 0 && store->schema < 2) {
        add_condition(filter, "0 = 1");        /* no link has a tag yet */
    }
    else if (query->ntags > 0 && query->tags_mode == ML_LIST_TAGS_ANY) {
        add_condition(filter, apr_pstrcat(filter->pool, "id IN (" TAGS_OF_LINK,
                                          tag_names(filter, query), "))", NULL));
    }
    else if (query->ntags > 0) {
        /* Every one: as many of the link's tags among them as were named
         * (a tag named twice counts once in the database, so names are
         * expected distinct: the caller's job). */
        add_condition(filter, apr_pstrcat(filter->pool,
            "(SELECT count(*) FROM link_tags lt JOIN tags t ON t.id = lt.tag_id"
            " WHERE lt.link_id = links.id AND t.name IN (",
            tag_names(filter, query), ")) = ?", NULL));
        add_number(filter, query->ntags);
    }
    if (query->created_from) {
        add_condition(filter, "created_at >= ?");
        add_number(filter, query->created_from);
    }
    if (query->created_until) {
        add_condition(filter, "created_at <= ?");
        add_number(filter, query->created_until);
    }
    if (query->exclude_max_visits_reached && store->schema >= 2) {
        add_condition(filter, "(max_visits IS NULL OR clicks < max_visits)");
    }
    if (query->exclude_past_valid_until) {
        add_condition(filter, "(expires_at IS NULL OR expires_at > ?)");
        add_number(filter, now);
    }
    if (query->owner && store->schema < 3) {
        add_condition(filter, "0 = 1");        /* all made by admins then */
    }
    else if (query->owner) {
        add_condition(filter, "owner = ?");
        add_text(filter, query->owner);
    }
}

/* Whether the same tag is named twice (ML_TAGS_ALL counts distinct ones). */
static int tags_repeat(const ml_store_list_query *query)
{
    int i, k;

    for (i = 0; i < query->ntags; i++) {
        for (k = 0; k < i; k++) {
            if (strcmp(query->tags[i], query->tags[k]) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

apr_status_t ml_store_list(ml_store *store, const ml_store_list_query *query,
                           ml_store_row_fn *row, void *ctx,
                           apr_uint64_t *total)
{
    list_filter filter;
    ml_store_list_sql sql;
    apr_int64_t page = query->page > 1 ? query->page : 1;
    apr_status_t rv;
    apr_pool_t *pool;

    if ((unsigned)query->order >= ML_LIST_ORDERS
        || (unsigned)query->tags_mode > ML_LIST_TAGS_ALL
        || query->ntags < 0 || query->ntags > ML_TAGS_MAX
        || (query->ntags > 0 && query->tags == NULL)
        || (query->tags_mode == ML_LIST_TAGS_ALL && tags_repeat(query))) {
        ml_store_fail(store, "a listing's order, tags or tags mode is out of"
                      " range");
        return APR_EINVAL;
    }
    apr_pool_create(&pool, NULL);
    filter.pool = pool;
    filter.where = "";
    filter.params = apr_array_make(pool, 8, sizeof(ml_store_param));
    list_where(store, query, &filter);
    sql.where = filter.where;
    sql.params = (const ml_store_param *)filter.params->elts;
    sql.nparams = filter.params->nelts;
    sql.order = query->order;
    sql.descending = query->descending != 0;
    if (query->items_per_page >= 1) {
        sql.limit = query->items_per_page;
        /* A page past any the database could hold is simply empty. */
        sql.offset = page - 1 > APR_INT64_MAX / query->items_per_page
                     ? APR_INT64_MAX : (page - 1) * query->items_per_page;
    }
    else {
        sql.limit = -1;
        sql.offset = 0;
    }
    rv = store->engine->list(store, &sql, row, ctx);
    if (rv == APR_SUCCESS && total) {
        rv = store->engine->count_list(store, &sql, total);
    }
    apr_pool_destroy(pool);
    return rv;
}

void ml_store_paginate(const ml_store_list_query *query, apr_uint64_t total,
                       ml_store_pagination *pagination)
{
    apr_int64_t all = (apr_int64_t)total;
    apr_int64_t page = query->page > 1 ? query->page : 1;
    apr_int64_t per_page = query->items_per_page >= 1 ? query->items_per_page
                                                      : (all > 0 ? all : 1);
    apr_int64_t before = page - 1 > all / per_page ? all : (page - 1) * per_page;

    pagination->current_page = query->items_per_page >= 1 ? page : 1;
    pagination->pages_count = all > 0 ? (all + per_page - 1) / per_page : 1;
    pagination->items_per_page = per_page;
    if (query->items_per_page < 1) {
        before = 0;
    }
    pagination->items_in_current_page = all - before < 0 ? 0
        : (all - before < per_page ? all - before : per_page);
    pagination->total_items = all;
}

/* ---- API keys ------------------------------------------------------------ */

static const char *const role_names[ML_ROLES] = {
    [ML_ROLE_ADMIN] = "admin",
    [ML_ROLE_AUTHOR] = "author",
    [ML_ROLE_READ_ONLY] = "read-only",
};

const char *ml_role_name(ml_role role)
{
    return (unsigned)role < ML_ROLES ? role_names[role] : "?";
}

int ml_role_of(const char *name)
{
    int role;

    for (role = 0; name && role < ML_ROLES; role++) {
        if (strcmp(name, role_names[role]) == 0) {
            return role;
        }
    }
    return -1;
}

const char *ml_api_key_name_problem(const char *name)
{
    apr_size_t len = name ? strlen(name) : 0;

    if (len < 1 || len > 64
        || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789_.@-") != len) {
        return "an API key's name is 1 to 64 of A-Z a-z 0-9 _ . @ -";
    }
    return NULL;
}

/* API keys need schema version 3: an older database says what to do. */
static apr_status_t api_keys_usable(ml_store *store)
{
    if (store->schema >= 3) {
        return APR_SUCCESS;
    }
    return ml_store_fail(store, "%s: schema version %d has no API keys;"
                         " run 'minilink --db %s upgrade' to add them",
                         store->label, store->schema, store->label);
}

static int is_key_hash(const char *hash)
{
    return hash && strlen(hash) == 64
           && strspn(hash, "0123456789abcdef") == 64;
}

#define API_KEY_COLUMNS "name, role, expires_at, created_at"

/* A row of API_KEY_COLUMNS. */
static void read_api_key(const char *const *values, ml_store_api_key *key)
{
    int role = ml_role_of(values[1]);

    key->name = values[0];
    key->role = role < 0 ? ML_ROLE_READ_ONLY : (ml_role)role;
    key->expires_at = values[2] ? apr_atoi64(values[2]) : 0;
    key->created_at = values[3] ? apr_atoi64(values[3]) : 0;
}

apr_status_t ml_store_api_key_add(ml_store *store, const ml_store_api_key *key,
                                  const char *key_hash)
{
    ml_store_param params[4];
    const char *problem = ml_api_key_name_problem(key->name);
    apr_status_t rv = api_keys_usable(store);
    int changed = 0;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (problem || (unsigned)key->role >= ML_ROLES || !is_key_hash(key_hash)
        || key->expires_at < 0) {
        ml_store_fail(store, "%s", problem ? problem
                      : "an API key needs a role, a SHA-256 in hex and no"
                        " expiry before 1970");
        return APR_EINVAL;
    }
    params[0] = (ml_store_param){ key->name, 0 };
    params[1] = (ml_store_param){ key_hash, 0 };
    params[2] = (ml_store_param){ ml_role_name(key->role), 0 };
    params[3] = (ml_store_param){ NULL, key->expires_at };
    /* NULLIF: 0 is "never", stored as NULL as the other optional times. */
    rv = store->engine->execute(store, "INSERT INTO api_keys (name, key_hash,"
                                " role, expires_at) VALUES (?, ?, ?,"
                                " NULLIF(?, 0)) ON CONFLICT DO NOTHING",
                                params, 4, &changed, "adding an API key");
    if (rv == APR_SUCCESS && changed == 0) {
        ml_store_fail(store, "an API key named '%s' exists already", key->name);
        return APR_EEXIST;
    }
    return rv;
}

typedef struct {
    ml_store_api_key *key;
    apr_pool_t *pool;
    int found;
} found_key;

static apr_status_t keep_api_key(void *ctx, const char *const *values,
                                 int ncolumns)
{
    found_key *found = ctx;

    (void)ncolumns;
    read_api_key(values, found->key);
    found->key->name = apr_pstrdup(found->pool, found->key->name);
    found->found = 1;
    return APR_SUCCESS;
}

apr_status_t ml_store_api_key_find(ml_store *store, const char *key_hash,
                                   ml_store_api_key *key, apr_pool_t *pool)
{
    found_key found = { key, pool, 0 };
    ml_store_param param = { key_hash, 0 };
    apr_status_t rv = api_keys_usable(store);

    if (rv == APR_SUCCESS) {
        rv = store->engine->query(store, "SELECT " API_KEY_COLUMNS
                                  " FROM api_keys WHERE key_hash = ?", &param,
                                  1, keep_api_key, &found,
                                  "looking up an API key");
    }
    if (rv == APR_SUCCESS && !found.found) {
        ml_store_fail(store, "no such API key");
        return APR_ENOENT;
    }
    return rv;
}

typedef struct {
    ml_store_api_key_fn *fn;
    void *ctx;
} each_key;

static apr_status_t pass_api_key(void *ctx, const char *const *values,
                                 int ncolumns)
{
    each_key *each = ctx;
    ml_store_api_key key;

    (void)ncolumns;
    read_api_key(values, &key);
    return each->fn(each->ctx, &key);
}

apr_status_t ml_store_api_key_each(ml_store *store, ml_store_api_key_fn *fn,
                                   void *ctx)
{
    each_key each = { fn, ctx };
    apr_status_t rv = api_keys_usable(store);

    return rv ? rv : store->engine->query(store, "SELECT " API_KEY_COLUMNS
                                          " FROM api_keys ORDER BY name", NULL,
                                          0, pass_api_key, &each,
                                          "reading the API keys");
}

apr_status_t ml_store_api_key_remove(ml_store *store, const char *name)
{
    ml_store_param param = { name, 0 };
    apr_status_t rv = api_keys_usable(store);
    int changed = 0;

    if (rv == APR_SUCCESS) {
        rv = store->engine->execute(store, "DELETE FROM api_keys WHERE name = ?",
                                    &param, 1, &changed,
                                    "removing an API key");
    }
    if (rv == APR_SUCCESS && changed == 0) {
        ml_store_fail(store, "no API key is named '%s'", name);
        return APR_ENOENT;
    }
    return rv;
}

/* ---- tags and totals --------------------------------------------------- */

typedef struct {
    ml_store_tag_fn *fn;
    void *ctx;
} each_tag;

static apr_int64_t number_of(const char *text)
{
    return text ? apr_atoi64(text) : 0;
}

static apr_status_t pass_tag(void *ctx, const char *const *values,
                             int ncolumns)
{
    each_tag *each = ctx;
    ml_store_tag tag;

    (void)ncolumns;
    tag.name = values[0];
    tag.links = number_of(values[1]);
    tag.clicks = number_of(values[2]);
    tag.bots = number_of(values[3]);
    return each->fn(each->ctx, &tag);
}

/* A tag's links (an owner's, or all), their clicks and their roll-up's
 * bots; "?" the owner where one is asked for. */
#define TAG_STATS(owned) \
    "SELECT t.name, count(l.id), coalesce(sum(l.clicks), 0)," \
    " coalesce(sum((SELECT sum(d.bots) FROM visits_daily d" \
    "               WHERE d.link_id = l.id)), 0)" \
    " FROM tags t LEFT JOIN link_tags lt ON lt.tag_id = t.id" \
    " LEFT JOIN links l ON l.id = lt.link_id" owned \
    " GROUP BY t.name"

apr_status_t ml_store_each_tag(ml_store *store, const char *owner,
                               ml_store_tag_fn *fn, void *ctx)
{
    each_tag each = { fn, ctx };
    ml_store_param param = { owner, 0 };

    if (store->schema < 3) {
        return api_keys_usable(store);
    }
    return owner
        ? store->engine->query(store, TAG_STATS(" AND l.owner = ?")
                               " HAVING count(l.id) > 0 ORDER BY t.name",
                               &param, 1, pass_tag, &each, "reading tags")
        : store->engine->query(store, TAG_STATS("") " ORDER BY t.name", NULL,
                               0, pass_tag, &each, "reading tags");
}

static apr_status_t keep_totals(void *ctx, const char *const *values,
                                int ncolumns)
{
    ml_store_visit_totals *totals = ctx;

    (void)ncolumns;
    totals->clicks = number_of(values[0]);
    totals->bots = number_of(values[1]);
    totals->orphans = number_of(values[2]);
    totals->orphan_bots = number_of(values[3]);
    return APR_SUCCESS;
}

apr_status_t ml_store_visit_totals_of(ml_store *store,
                                      ml_store_visit_totals *totals)
{
    apr_status_t rv = visits_usable(store);

    memset(totals, 0, sizeof(*totals));
    return rv ? rv : store->engine->query(store,
        "SELECT (SELECT coalesce(sum(clicks), 0) FROM links),"
        " (SELECT coalesce(sum(bots), 0) FROM visits_daily),"
        " (SELECT count(*) FROM visits WHERE link_id IS NULL),"
        " (SELECT coalesce(sum(bot), 0) FROM visits WHERE link_id IS NULL)",
        NULL, 0, keep_totals, totals, "counting visits");
}

/* ---- tag edits, visits of many links ------------------------------------- */

typedef struct {
    ml_store_visit_fn *fn;
    void *ctx;
    apr_uint64_t count;
} many_visits;

static apr_status_t keep_count(void *ctx, const char *const *values,
                               int ncolumns);

apr_status_t ml_store_rename_tag(ml_store *store, const char *from,
                                 const char *to)
{
    ml_store_param params[3] = { { to, 0 }, { from, 0 }, { to, 0 } };
    apr_status_t rv = api_keys_usable(store);
    int changed = 0;

    if (rv == APR_SUCCESS && ml_tag_problem(to)) {
        ml_store_fail(store, "%s", ml_tag_problem(to));
        return APR_EINVAL;
    }
    /* Refused rather than merged when the new name exists (Shlink's
     * tag-conflict); both cases answered by one statement. */
    if (rv == APR_SUCCESS) {
        rv = store->engine->execute(store, "UPDATE tags SET name = ? WHERE name = ?"
                                    " AND NOT EXISTS (SELECT 1 FROM tags"
                                    " WHERE name = ?)", params, 3, &changed,
                                    "renaming a tag");
    }
    if (rv == APR_SUCCESS && changed == 0) {
        many_visits there = { NULL, NULL, 0 };
        rv = store->engine->query(store, "SELECT count(*) FROM tags WHERE"
                                  " name = ?", &params[0], 1, keep_count,
                                  &there, "renaming a tag");
        if (rv == APR_SUCCESS) {
            ml_store_fail(store, there.count ? "a tag is named '%s' already"
                          : "no tag is named '%s'", there.count ? to : from);
            rv = there.count ? APR_EEXIST : APR_ENOENT;
        }
    }
    return rv;
}

typedef struct {
    const char *const *names;
    int count;
    int *deleted;
} tags_deletion;

static apr_status_t delete_tags(ml_store *store, void *ctx)
{
    tags_deletion *job = ctx;
    int i, changed;
    apr_status_t rv = APR_SUCCESS;

    *job->deleted = 0;
    for (i = 0; rv == APR_SUCCESS && i < job->count; i++) {
        ml_store_param param = { job->names[i], 0 };
        rv = store->engine->execute(store, "DELETE FROM link_tags WHERE tag_id"
                                    " IN (SELECT id FROM tags WHERE name = ?)",
                                    &param, 1, NULL, "deleting a tag");
        if (rv == APR_SUCCESS) {
            rv = store->engine->execute(store, "DELETE FROM tags WHERE name = ?",
                                        &param, 1, &changed, "deleting a tag");
            *job->deleted += changed;
        }
    }
    return rv;
}

apr_status_t ml_store_delete_tags(ml_store *store, const char *const *names,
                                  int count, int *deleted)
{
    tags_deletion job = { names, count, deleted };
    apr_status_t rv = api_keys_usable(store);

    return rv ? rv : in_write(store, delete_tags, &job);
}

apr_status_t ml_store_delete_visits(ml_store *store, const char *slug,
                                    apr_uint64_t *deleted)
{
    ml_store_param param = { slug, 0 };
    apr_status_t rv = visits_usable(store);
    int changed = 0;

    *deleted = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = slug
        ? store->engine->execute(store, "DELETE FROM visits WHERE link_id ="
                                 " (SELECT id FROM links WHERE slug = ?)",
                                 &param, 1, &changed, "deleting visits")
        : store->engine->execute(store, "DELETE FROM visits WHERE link_id IS"
                                 " NULL", NULL, 0, &changed, "deleting visits");
    if (rv == APR_SUCCESS && slug) {
        rv = store->engine->execute(store, "DELETE FROM visits_daily WHERE"
                                    " link_id = (SELECT id FROM links WHERE"
                                    " slug = ?)", &param, 1, NULL,
                                    "deleting visits");
    }
    *deleted = (apr_uint64_t)changed;
    return rv;
}

/* The visits of many links (ml_store_visit_query's links, tag, owner):
 * SQL both engines run, read as text. */
#define MANY_VISIT_COLUMNS "v.link_id, v.visited_at, v.orphan_type," \
    " v.referrer, v.user_agent, v.bot, v.redirect_url, v.visited_path," \
    " v.country, v.ip"

static const char *many_visits_where(const ml_store_visit_query *q,
                                     ml_store_param *params, int *nparams)
{
    *nparams = 0;
    params[(*nparams)++] = (ml_store_param){ NULL, q->since };
    if (q->tag) {
        params[(*nparams)++] = (ml_store_param){ q->tag, 0 };
    }
    if (q->owner) {
        params[(*nparams)++] = (ml_store_param){ q->owner, 0 };
    }
    return q->tag && q->owner
           ? " FROM visits v JOIN links l ON l.id = v.link_id WHERE"
             " v.visited_at >= ? AND l.id IN (SELECT lt.link_id FROM link_tags"
             " lt JOIN tags t ON t.id = lt.tag_id WHERE t.name = ?)"
             " AND l.owner = ?"
           : q->tag
           ? " FROM visits v WHERE v.visited_at >= ? AND v.link_id IN"
             " (SELECT lt.link_id FROM link_tags lt JOIN tags t"
             " ON t.id = lt.tag_id WHERE t.name = ?)"
           : q->owner
           ? " FROM visits v JOIN links l ON l.id = v.link_id WHERE"
             " v.visited_at >= ? AND l.owner = ?"
           : " FROM visits v WHERE v.visited_at >= ? AND v.link_id IS NOT NULL";
}

static apr_status_t pass_visit(void *ctx, const char *const *values,
                               int ncolumns)
{
    many_visits *many = ctx;
    ml_store_visit visit;

    (void)ncolumns;
    visit.link_id = number_of(values[0]);
    visit.visited_at = number_of(values[1]);
    visit.orphan_type = values[2];
    visit.referrer = values[3];
    visit.user_agent = values[4];
    visit.bot = (int)number_of(values[5]);
    visit.redirect_url = values[6];
    visit.visited_path = values[7] ? values[7] : "";
    visit.country = values[8];
    visit.ip = values[9];
    return many->fn(many->ctx, &visit);
}

static apr_status_t keep_count(void *ctx, const char *const *values,
                               int ncolumns)
{
    (void)ncolumns;
    ((many_visits *)ctx)->count = (apr_uint64_t)number_of(values[0]);
    return APR_SUCCESS;
}

static int of_many_links(const ml_store_visit_query *q)
{
    return q->slug == NULL && (q->links || q->tag);
}

/* The visits of many links (fn for each), or with count set how many. */
static apr_status_t of_many(ml_store *store, const ml_store_visit_query *q,
                            ml_store_visit_fn *fn, void *ctx,
                            apr_uint64_t *count)
{
    ml_store_param params[5];
    many_visits many = { fn, ctx, 0 };
    apr_pool_t *pool;
    const char *where;
    apr_status_t rv;
    int n;

    if ((rv = api_keys_usable(store)) != APR_SUCCESS) {
        return rv;
    }
    where = many_visits_where(q, params, &n);
    apr_pool_create(&pool, NULL);
    if (count) {
        rv = store->engine->query(store, apr_pstrcat(pool, "SELECT count(*)",
                                                     where, NULL),
                                  params, n, keep_count, &many,
                                  "counting visits");
        *count = many.count;
    }
    else {
        params[n++] = (ml_store_param){ NULL, q->limit > 0 ? q->limit
                                                           : APR_INT64_MAX };
        params[n++] = (ml_store_param){ NULL, q->offset };
        rv = store->engine->query(store, apr_pstrcat(pool, "SELECT "
                                  MANY_VISIT_COLUMNS, where, q->newest_first
                                  ? " ORDER BY v.visited_at DESC, v.id DESC"
                                  : " ORDER BY v.visited_at, v.id",
                                  " LIMIT ? OFFSET ?", NULL),
                                  params, n, pass_visit, &many,
                                  "reading visits");
    }
    apr_pool_destroy(pool);
    return rv;
}

/* ---- tags and rules of the links read --------------------------------- */

/* What one link has, as it is gathered. */
typedef struct {
    apr_array_header_t *tags;         /* const char * */
    apr_array_header_t *rules;        /* gathered_rule */
    ml_link *scalars;                 /* its rule columns, or NULL */
    const char *problem;              /* what their row showed, or NULL */
} gathered_link;

typedef struct {
    apr_int64_t id;
    const char *url;
    apr_array_header_t *conditions;   /* ml_condition */
} gathered_rule;

/* A filter in front of the hash: a clear bit (id modulo its size) means
 * nothing was gathered for the id, which is what a load of a million
 * links, nearly all plain, asks a million times (a hash lookup each took
 * a fifth of the load). */
#define EXTRAS_FILTER_BITS 65536

struct ml_link_extras {
    apr_pool_t *pool;
    apr_hash_t *links;                /* link id -> gathered_link */
    unsigned char filter[EXTRAS_FILTER_BITS / 8];
};

ml_link_extras *ml_extras_make(apr_pool_t *pool)
{
    ml_link_extras *extras = apr_pcalloc(pool, sizeof(*extras));

    extras->pool = pool;
    extras->links = apr_hash_make(pool);
    return extras;
}

static gathered_link *gathered(ml_link_extras *extras, apr_int64_t link_id)
{
    gathered_link *found = apr_hash_get(extras->links, &link_id,
                                        sizeof(link_id));

    if (found == NULL) {
        apr_uint64_t bit = (apr_uint64_t)link_id % EXTRAS_FILTER_BITS;
        apr_int64_t *key = apr_pmemdup(extras->pool, &link_id, sizeof(link_id));
        found = apr_pcalloc(extras->pool, sizeof(*found));
        apr_hash_set(extras->links, key, sizeof(*key), found);
        extras->filter[bit / 8] |= (unsigned char)(1u << (bit % 8));
    }
    return found;
}

static const char *copy(apr_pool_t *pool, const char *text)
{
    return text ? apr_pstrdup(pool, text) : NULL;
}

void ml_extras_add_tag(ml_link_extras *extras, apr_int64_t link_id,
                       const char *name)
{
    gathered_link *link = gathered(extras, link_id);

    if (link->tags == NULL) {
        link->tags = apr_array_make(extras->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(link->tags, const char *) = copy(extras->pool, name);
}

void ml_extras_add_condition(ml_link_extras *extras, apr_int64_t link_id,
                             apr_int64_t rule_id, const char *url,
                             const char *type, const char *key,
                             const char *value)
{
    gathered_link *link = gathered(extras, link_id);
    gathered_rule *rule = NULL;
    ml_condition *condition;
    int kind;

    if (link->rules == NULL) {
        link->rules = apr_array_make(extras->pool, 2, sizeof(gathered_rule));
    }
    if (link->rules->nelts > 0) {
        rule = &APR_ARRAY_IDX(link->rules, link->rules->nelts - 1,
                              gathered_rule);
    }
    if (rule == NULL || rule->id != rule_id) {
        rule = apr_array_push(link->rules);
        rule->id = rule_id;
        rule->url = copy(extras->pool, url);
        rule->conditions = apr_array_make(extras->pool, 2,
                                          sizeof(ml_condition));
    }
    if (type == NULL) {
        return;
    }
    kind = ml_condition_type_of(type);
    condition = apr_array_push(rule->conditions);
    /* An unknown type stays one, for ml_link_problem() to refuse. */
    condition->type = kind < 0 ? ML_CONDITION_TYPES : (ml_condition_type)kind;
    condition->key = copy(extras->pool, key);
    condition->value = copy(extras->pool, value);
}

void ml_extras_add_scalars(ml_link_extras *extras, const ml_link *row,
                           const char *problem)
{
    gathered_link *link = gathered(extras, row->id);
    ml_link *scalars = apr_pmemdup(extras->pool, row, sizeof(*row));

    scalars->title = copy(extras->pool, row->title);
    scalars->fallback_url = copy(extras->pool, row->fallback_url);
    scalars->password_hash = copy(extras->pool, row->password_hash);
    link->scalars = scalars;
    link->problem = problem;
}

const char *ml_extras_attach(const ml_link_extras *extras, ml_link *link)
{
    apr_uint64_t bit = (apr_uint64_t)link->id % EXTRAS_FILTER_BITS;
    gathered_link *found;
    ml_rule *rules;
    int i;

    link->tags = NULL;
    link->rules = NULL;
    link->nrules = 0;
    if (!(extras->filter[bit / 8] & (1u << (bit % 8)))) {
        return NULL;
    }
    found = apr_hash_get(extras->links, &link->id, sizeof(link->id));
    if (found == NULL) {
        return NULL;
    }
    if (found->scalars) {
        link->clicks = found->scalars->clicks;
        link->title = found->scalars->title;
        link->valid_since = found->scalars->valid_since;
        link->max_visits = found->scalars->max_visits;
        link->fallback_url = found->scalars->fallback_url;
        link->password_hash = found->scalars->password_hash;
        link->forward_query = found->scalars->forward_query;
        link->forward_path = found->scalars->forward_path;
        link->crawlable = found->scalars->crawlable;
    }
    link->tags = found->tags;
    if (found->rules == NULL) {
        return found->problem;
    }
    rules = apr_palloc(extras->pool, sizeof(*rules) * (apr_size_t)found->rules->nelts);
    for (i = 0; i < found->rules->nelts; i++) {
        gathered_rule *rule = &APR_ARRAY_IDX(found->rules, i, gathered_rule);
        rules[i].url = rule->url;
        rules[i].nconditions = rule->conditions->nelts;
        rules[i].conditions = (const ml_condition *)rule->conditions->elts;
    }
    link->rules = rules;
    link->nrules = found->rules->nelts;
    return found->problem;
}

/* ---- visits -------------------------------------------------------------- */

/* Visits need schema version 2: an older database says what to do. */
static apr_status_t visits_usable(ml_store *store)
{
    if (store->schema >= 2) {
        return APR_SUCCESS;
    }
    return ml_store_fail(store, "%s: schema version %d has no visits table;"
                         " run 'minilink --db %s upgrade' to add it",
                         store->label, store->schema, store->label);
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

    if (rv == APR_SUCCESS && of_many_links(query)) {
        return of_many(store, query, fn, ctx, NULL);
    }
    return rv ? rv : store->engine->each_visit(store, query, fn, ctx);
}

apr_status_t ml_store_count_visits(ml_store *store,
                                   const ml_store_visit_query *query,
                                   apr_uint64_t *count)
{
    apr_status_t rv = visits_usable(store);

    *count = 0;
    if (rv == APR_SUCCESS && of_many_links(query)) {
        return of_many(store, query, NULL, NULL, count);
    }
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
