/*
 * ml_import_peers.c - other shorteners' exports read as links
 * (ml_import_peers.h).
 *
 * One table per peer says what its columns (CSV) or fields (JSON) hold;
 * the two readers only find the values, and take_value() turns a value
 * into the link's field whichever form it came in.  libcsv (through
 * ml_csv.c) reads the CSV and jansson the JSON; what is written by hand is
 * only the peers' date shapes, brought to the ISO 8601 forms ml_time reads.
 *
 * Where the formats come from (read in the peers' sources):
 * - Shlink's CSV: shlink-web-component's ExportShortUrlsBtn (papaparse's
 *   unparse: RFC 4180, a header line, tags joined with '|'), and
 *   shlink-importer's CsvImporter, which matches header names without case
 *   or spaces ("Short Code"); its JSON: the ShortUrl object of the REST API
 *   (docs/swagger in shlinkio/shlink), in {"shortUrls": {"data": [...]}}.
 * - YOURLS: the yourls_url table of includes/functions-install.php;
 *   timestamps are written in UTC (includes/Config/Init.php sets it).
 * - Kutt: GET /api/v2/links (server/handlers/links.handler.js), whose
 *   {"data": [...]} links are utils.sanitize.link(); expire_in is the raw
 *   column, "YYYY-MM-DD HH:MM:SS" in UTC from SQLite.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "../links/ml_fields.h"
#include "../links/ml_time.h"
#include "ml_csv.h"
#include "ml_import_peers.h"

/* What a column or field holds. */
typedef enum {
    HOLDS_NOTHING,         /* known, not kept: a domain, the short URL, an IP */
    HOLDS_SLUG,
    HOLDS_URL,
    HOLDS_TITLE,
    HOLDS_TAGS,            /* CSV: joined with '|'; JSON: an array */
    HOLDS_CREATED,
    HOLDS_VALID_SINCE,
    HOLDS_VALID_UNTIL,
    HOLDS_MAX_VISITS,
    HOLDS_VISITS,
    HOLDS_BANNED,          /* Kutt's: served as disabled */
    HOLDS_PASSWORD,        /* Kutt's: whether there is one, never the password */
    HOLDS_CRAWLABLE,
    HOLDS_FORWARD_QUERY,
    HOLDS_DEVICE_URLS,     /* Shlink 3's {"android": URL, "ios": ...} */
    HOLDS_RULES_ELSEWHERE  /* Shlink 4's: whether it has redirect rules */
} holds;

typedef struct {
    const char *name;      /* CSV: a header name, matched without case or
                            * spaces; JSON: a path ("meta.validSince") */
    holds what;
} field;

struct ml_peer {
    const char *name;
    const field *csv;      /* in the order of a file without a header;
                            * NULL: no CSV form */
    int csv_header_optional;
    const field *json;     /* NULL: no JSON form */
    const char *const *nulls;  /* cells that stand for SQL's NULL */
};

/* Shlink's web client export; validSince, validUntil and maxVisits are
 * not in it, but a CSV made from the API's fields may have them. */
static const field shlink_csv[] = {
    { "createdat", HOLDS_CREATED }, { "domain", HOLDS_NOTHING },
    { "shortcode", HOLDS_SLUG }, { "shorturl", HOLDS_NOTHING },
    { "longurl", HOLDS_URL }, { "title", HOLDS_TITLE },
    { "tags", HOLDS_TAGS }, { "visits", HOLDS_VISITS },
    { "validsince", HOLDS_VALID_SINCE }, { "validuntil", HOLDS_VALID_UNTIL },
    { "maxvisits", HOLDS_MAX_VISITS }, { NULL, HOLDS_NOTHING }
};
/* visitsCount is Shlink 2's; 3 has both, with the same number. */
static const field shlink_json[] = {
    { "shortCode", HOLDS_SLUG }, { "longUrl", HOLDS_URL },
    { "title", HOLDS_TITLE }, { "tags", HOLDS_TAGS },
    { "dateCreated", HOLDS_CREATED }, { "visitsCount", HOLDS_VISITS },
    { "visitsSummary.total", HOLDS_VISITS },
    { "meta.validSince", HOLDS_VALID_SINCE },
    { "meta.validUntil", HOLDS_VALID_UNTIL },
    { "meta.maxVisits", HOLDS_MAX_VISITS }, { "crawlable", HOLDS_CRAWLABLE },
    { "forwardQuery", HOLDS_FORWARD_QUERY },
    { "deviceLongUrls", HOLDS_DEVICE_URLS },
    { "hasRedirectRules", HOLDS_RULES_ELSEWHERE }, { NULL, HOLDS_NOTHING }
};
static const field yourls_csv[] = {
    { "keyword", HOLDS_SLUG }, { "url", HOLDS_URL }, { "title", HOLDS_TITLE },
    { "timestamp", HOLDS_CREATED }, { "ip", HOLDS_NOTHING },
    { "clicks", HOLDS_VISITS }, { NULL, HOLDS_NOTHING }
};
static const field kutt_json[] = {
    { "address", HOLDS_SLUG }, { "target", HOLDS_URL },
    { "description", HOLDS_TITLE }, { "created_at", HOLDS_CREATED },
    { "visit_count", HOLDS_VISITS }, { "expire_in", HOLDS_VALID_UNTIL },
    { "banned", HOLDS_BANNED }, { "password", HOLDS_PASSWORD },
    { NULL, HOLDS_NOTHING }
};
/* NULL as phpMyAdmin's CSV export writes it by default, and as mysqldump
 * --tab and SELECT ... INTO OUTFILE do; only YOURLS' title may be NULL. */
static const char *const mysql_nulls[] = { "NULL", "\\N", NULL };

static const ml_peer peers[] = {
    { "shlink", shlink_csv, 0, shlink_json, NULL },
    { "yourls", yourls_csv, 1, NULL, mysql_nulls },
    { "kutt", NULL, 0, kutt_json, NULL },
};

const char ml_peer_names[] = "shlink, yourls or kutt";

const ml_peer *ml_peer_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
        if (strcmp(peers[i].name, name) == 0) {
            return &peers[i];
        }
    }
    return NULL;
}

const char *ml_peer_place_word(int json)
{
    return json ? "link" : NULL;
}

/* ---- values ----------------------------------------------------------- */

/*
 * A peer's date and time as Unix seconds: ml_time's forms, and those with
 * a space for the T (MySQL, SQLite), fractions of a second (JavaScript's
 * toISOString) or no zone, which the peers write in UTC.  MySQL's zero
 * date is no date.  1 and *seconds, or 0.
 */
static int peer_time(const char *text, apr_int64_t *seconds)
{
    char iso[ML_TIME_TEXT];
    const char *rest;

    if (ml_time_read(text, seconds)) {
        return 1;
    }
    if (strncmp(text, "0000-00-00", 10) == 0) {
        *seconds = 0;
        return 1;
    }
    if (strlen(text) < 19 || (text[10] != ' ' && text[10] != 'T')) {
        return 0;
    }
    rest = text + 19;
    if (*rest == '.') {
        do {
            rest++;
        } while (apr_isdigit(*rest));
    }
    if (strlen(rest) > 6) {
        return 0;
    }
    memcpy(iso, text, 19);
    iso[10] = 'T';
    strcpy(iso + 19, *rest ? rest : "Z");
    return ml_time_read(iso, seconds);
}

/* A boolean as JSON (true, false) or CSV (1, 0) has it; -1 if neither. */
static int flag_of(const char *text)
{
    return strcmp(text, "true") == 0 || strcmp(text, "1") == 0 ? 1
         : strcmp(text, "false") == 0 || strcmp(text, "0") == 0 ? 0 : -1;
}

/*
 * A title on one line: the peers take a page's <title> as it comes, tabs
 * and line breaks included, which a title of ours may not hold (it is
 * shown in one line of "list" and of HTML); each becomes a space.
 */
static const char *one_line(const char *title, apr_pool_t *pool)
{
    char *copy = apr_pstrdup(pool, title), *at;

    for (at = copy; *at; at++) {
        if (*at == '\t' || *at == '\r' || *at == '\n') {
            *at = ' ';
        }
    }
    return copy;
}

/*
 * The peer's tags, checked one by one (a peer may allow a space or a '|'
 * inside one, which our list of tags, separated by spaces, would split),
 * then read as the tags field.  NULL or what is wrong.
 */
static const char *take_tags(ml_link *link, const apr_array_header_t *tags,
                             apr_pool_t *pool)
{
    const char *problem;
    int i;

    for (i = 0; i < tags->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(tags, i, const char *);
        if ((problem = ml_tag_problem(tag)) != NULL) {
            return apr_psprintf(pool, "the tag '%s': %s", tag, problem);
        }
    }
    /* Joined in one pass: a cell may hold a million of them. */
    return ml_field_read(link, ML_FIELD_TAGS,
                         apr_array_pstrcat(pool, tags, ' '), NULL, pool);
}

/*
 * Sets the field a value holds (text from pool; "" is no value).  NULL, or
 * a sentence saying what is wrong, naming the column or field as the file
 * does (name).  *note may get what the link could not keep.
 */
static const char *take_value(ml_link *link, const field *f, const char *name,
                              const char *text, const char **note,
                              apr_pool_t *pool)
{
    apr_int64_t number = 0;
    int flag;

    if (*text == '\0' && f->what != HOLDS_SLUG && f->what != HOLDS_URL) {
        return NULL;
    }
    switch (f->what) {
    case HOLDS_SLUG:
        link->slug = text;
        return NULL;
    case HOLDS_URL:
        link->url = text;
        return NULL;
    case HOLDS_TITLE:
        return ml_field_read(link, ML_FIELD_TITLE, one_line(text, pool), NULL,
                             pool);
    case HOLDS_CREATED:
    case HOLDS_VALID_SINCE:
    case HOLDS_VALID_UNTIL:
        if (!peer_time(text, &number)) {
            return apr_psprintf(pool, "%s '%s' is not a date and time "
                                "(YYYY-MM-DD HH:MM:SS in UTC, or ISO 8601)",
                                name, text);
        }
        *(f->what == HOLDS_CREATED ? &link->created_at
          : f->what == HOLDS_VALID_SINCE ? &link->valid_since
          : &link->expires_at) = number;
        return NULL;
    case HOLDS_MAX_VISITS:
    case HOLDS_VISITS:
        if ((number = ml_decimal(text)) < 0) {
            return apr_psprintf(pool, "%s '%s' is not a number of visits",
                                name, text);
        }
        if (f->what == HOLDS_VISITS) {
            link->clicks = number;
            return NULL;
        }
        return ml_field_read(link, ML_FIELD_MAX_VISITS, text, NULL, pool);
    case HOLDS_NOTHING:
        return NULL;
    default:
        break;
    }
    if ((flag = flag_of(text)) < 0) {
        return apr_psprintf(pool, "%s '%s' is not true or false", name, text);
    }
    if (f->what == HOLDS_BANNED) {
        link->disabled |= flag;
    }
    else if (f->what == HOLDS_PASSWORD && flag) {
        /* Served without its password it would be open to anyone. */
        link->disabled = 1;
        *note = apr_psprintf(pool, "'%s' has a password in Kutt, which "
                             "Kutt does not export: imported disabled "
                             "('minilink set %s --password --enable' gives "
                             "it one)", link->slug, link->slug);
    }
    else if (f->what == HOLDS_CRAWLABLE) {
        link->crawlable = flag;
    }
    /* Shlink forwards the query unless told not to, as the location does
     * by default: only "false" is the link's own choice. */
    else if (f->what == HOLDS_FORWARD_QUERY && !flag) {
        link->forward_query = ML_CHOICE_OFF;
    }
    else if (f->what == HOLDS_RULES_ELSEWHERE && flag) {
        *note = apr_psprintf(pool, "'%s' has redirect rules in Shlink, which "
                             "its list of links leaves out: imported without "
                             "them (Shlink gives them at GET /rest/v3/"
                             "short-urls/%s/redirect-rules; 'minilink rule "
                             "add' adds them)", link->slug, link->slug);
    }
    return NULL;
}

/* ---- CSV -------------------------------------------------------------- */

typedef struct {
    const ml_peer *peer;
    ml_peer_link_fn *take;
    void *ctx;
    apr_pool_t *link_pool;
    apr_pool_t *pool;
    const field **columns;     /* what each column of the file holds; NULL
                                * until the first record is read */
    const char **names;        /* each column's name, as the file has it */
    int ncolumns;
    const char *problem;       /* what is wrong, when the file is at fault */
    apr_uint64_t place;
} csv_reader;

/* A header name as peers match it: without case or spaces. */
static char *normalized(const char *name, apr_pool_t *pool)
{
    char *out = apr_palloc(pool, strlen(name) + 1), *end = out;

    for (; *name; name++) {
        if (*name != ' ') {
            *end++ = (char)apr_tolower(*name);
        }
    }
    *end = '\0';
    return out;
}

static const field *csv_field(const ml_peer *peer, const char *name)
{
    const field *f;

    for (f = peer->csv; f->name; f++) {
        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}

static apr_status_t csv_failed(csv_reader *r, apr_uint64_t line,
                               const char *problem)
{
    r->problem = problem;
    r->place = line;
    return APR_EINVAL;
}

/* The columns' names, as a header names them, for messages. */
static const char *csv_names(const ml_peer *peer, apr_pool_t *pool)
{
    const char *names = "";
    const field *f;

    for (f = peer->csv; f->name; f++) {
        names = apr_pstrcat(pool, names, f == peer->csv ? "" : ",", f->name,
                            NULL);
    }
    return names;
}

/*
 * The first record: a header, whose names say what each column holds
 * (names the peer does not have are left alone, as newer versions add
 * columns), or, where the peer may have none, the first link, in the
 * table's order.  *was_header says which.
 */
static apr_status_t read_header(csv_reader *r, const char *const *fields,
                                int count, apr_uint64_t line, int *was_header)
{
    int i, slug = 0, url = 0;

    r->columns = apr_pcalloc(r->pool, (apr_size_t)count * sizeof(field *));
    r->names = apr_pcalloc(r->pool, (apr_size_t)count * sizeof(char *));
    r->ncolumns = count;
    for (i = 0; i < count; i++) {
        r->names[i] = apr_pstrdup(r->pool, fields[i]);
        r->columns[i] = csv_field(r->peer, normalized(fields[i], r->pool));
        slug |= r->columns[i] && r->columns[i]->what == HOLDS_SLUG;
        url |= r->columns[i] && r->columns[i]->what == HOLDS_URL;
    }
    *was_header = slug || url;
    if (slug && url) {
        return APR_SUCCESS;
    }
    if (!*was_header && r->peer->csv_header_optional) {
        for (i = 0; r->peer->csv[i].name; i++) {
        }
        if (count != i) {
            return csv_failed(r, line, apr_psprintf(r->pool, "%d fields, but "
                              "a file without a header must have the %d "
                              "columns %s", count, i,
                              csv_names(r->peer, r->pool)));
        }
        for (i = 0; i < count; i++) {
            r->columns[i] = &r->peer->csv[i];
            r->names[i] = r->peer->csv[i].name;
        }
        return APR_SUCCESS;
    }
    return csv_failed(r, line, apr_psprintf(r->pool, "the first line must "
                      "be a header naming at least the slug's and the URL's "
                      "columns: %s (any order)", csv_names(r->peer, r->pool)));
}

static int is_null(const ml_peer *peer, const char *text)
{
    const char *const *null;

    for (null = peer->nulls; null && *null; null++) {
        if (strcmp(*null, text) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The '|'-separated tags of a cell, empty ones dropped. */
static apr_array_header_t *split_tags(const char *text, apr_pool_t *pool)
{
    apr_array_header_t *tags = apr_array_make(pool, 4, sizeof(const char *));
    char *copy = apr_pstrdup(pool, text), *state, *tag;

    for (tag = apr_strtok(copy, "|", &state); tag;
         tag = apr_strtok(NULL, "|", &state)) {
        APR_ARRAY_PUSH(tags, const char *) = tag;
    }
    return tags;
}

static apr_status_t csv_record(void *ctx, const char *const *fields,
                               int count, apr_uint64_t line)
{
    csv_reader *r = ctx;
    const char *problem = NULL, *note = NULL;
    ml_link link;
    int i, was_header = 0;
    apr_status_t rv;

    if (r->columns == NULL
        && ((rv = read_header(r, fields, count, line, &was_header))
            || was_header)) {
        return rv;
    }
    if (count != r->ncolumns) {
        return csv_failed(r, line, apr_psprintf(r->pool, "%d fields where "
                          "the first line has %d", count, r->ncolumns));
    }
    memset(&link, 0, sizeof(link));
    link.slug = link.url = "";
    for (i = 0; i < count && problem == NULL; i++) {
        const field *f = r->columns[i];
        const char *text = apr_pstrdup(r->link_pool, fields[i]);
        if (f == NULL || is_null(r->peer, text)) {
            continue;
        }
        problem = f->what == HOLDS_TAGS
                  ? take_tags(&link, split_tags(text, r->link_pool),
                              r->link_pool)
                  : take_value(&link, f, r->names[i], text, &note,
                               r->link_pool);
    }
    if (problem) {
        return csv_failed(r, line, problem);
    }
    return r->take(r->ctx, &link, line, note);
}

static apr_status_t read_csv(const ml_peer *peer, FILE *in,
                             ml_peer_link_fn *take, void *ctx,
                             apr_pool_t *link_pool, const char **problem,
                             apr_uint64_t *place, apr_pool_t *pool)
{
    csv_reader r = { .peer = peer, .take = take, .ctx = ctx,
                     .link_pool = link_pool, .pool = pool };
    const char *csv_problem;
    apr_uint64_t line;
    apr_status_t rv = ml_csv_read(in, csv_record, &r, &csv_problem, &line,
                                  pool);

    *problem = csv_problem ? csv_problem : r.problem;
    *place = csv_problem ? line : r.place;
    if (rv == APR_SUCCESS && r.columns == NULL) {
        *problem = apr_pstrcat(pool, "the file is empty; its first line must "
                               "be a header: ", csv_names(peer, pool), NULL);
        *place = 1;
        rv = APR_EINVAL;
    }
    return rv;
}

/* ---- JSON ------------------------------------------------------------- */

/* The value at a dotted path in object, or NULL. */
static json_t *at_path(json_t *object, const char *path, apr_pool_t *pool)
{
    char *copy = apr_pstrdup(pool, path), *state, *key;

    for (key = apr_strtok(copy, ".", &state); key && object;
         key = apr_strtok(NULL, ".", &state)) {
        object = json_object_get(object, key);
    }
    return object;
}

/* A JSON scalar as the text a CSV cell would have; NULL for an array or
 * an object. */
static const char *scalar_text(json_t *value, apr_pool_t *pool)
{
    switch (json_typeof(value)) {
    case JSON_STRING:
        return apr_pstrmemdup(pool, json_string_value(value),
                              json_string_length(value));
    case JSON_INTEGER:
        return apr_psprintf(pool, "%" APR_INT64_T_FMT,
                            (apr_int64_t)json_integer_value(value));
    case JSON_REAL:
        return apr_psprintf(pool, "%g", json_real_value(value));
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "";
    default:
        return NULL;
    }
}

/* The tags of a JSON array of strings. */
static const char *json_tags(ml_link *link, json_t *array, apr_pool_t *pool)
{
    apr_array_header_t *tags = apr_array_make(pool, 4, sizeof(const char *));
    size_t i;
    json_t *tag;

    if (json_is_null(array)) {
        return NULL;
    }
    if (!json_is_array(array)) {
        return "tags is not a list";
    }
    json_array_foreach(array, i, tag) {
        if (!json_is_string(tag)) {
            return "tags holds something other than text";
        }
        APR_ARRAY_PUSH(tags, const char *) = scalar_text(tag, pool);
    }
    return take_tags(link, tags, pool);
}

/*
 * Shlink 3's long URLs by device, as redirect rules on the device (our
 * device names are Shlink's): {"android": URL, "ios": URL, "desktop":
 * null} is "--device android URL" and "--device ios URL".
 */
static const char *json_device_urls(ml_link *link, json_t *urls,
                                    apr_pool_t *pool)
{
    apr_array_header_t *rules = apr_array_make(pool, 3, sizeof(char *));
    const char *device;
    json_t *url;

    if (json_is_null(urls)) {
        return NULL;
    }
    if (!json_is_object(urls)) {
        return "deviceLongUrls is not an object";
    }
    json_object_foreach(urls, device, url) {
        if (json_is_null(url)) {
            continue;
        }
        if (!json_is_string(url)) {
            return apr_psprintf(pool, "deviceLongUrls.%s is not text", device);
        }
        APR_ARRAY_PUSH(rules, char *) = apr_pstrcat(pool, "--device ", device,
                                                    " ", json_string_value(url),
                                                    NULL);
    }
    return ml_field_read(link, ML_FIELD_RULES,
                         apr_array_pstrcat(pool, rules, '\n'), NULL, pool);
}

/* One link of the list. */
static const char *json_link(const ml_peer *peer, json_t *item, ml_link *link,
                             const char **note, apr_pool_t *pool)
{
    const char *problem = NULL;
    const field *f;

    if (!json_is_object(item)) {
        return "it is not an object";
    }
    memset(link, 0, sizeof(*link));
    link->slug = link->url = "";
    for (f = peer->json; f->name && problem == NULL; f++) {
        json_t *value = at_path(item, f->name, pool);
        const char *text;
        if (value == NULL) {
            continue;
        }
        if (f->what == HOLDS_TAGS) {
            problem = json_tags(link, value, pool);
        }
        else if (f->what == HOLDS_DEVICE_URLS) {
            problem = json_device_urls(link, value, pool);
        }
        else if ((text = scalar_text(value, pool)) == NULL) {
            problem = apr_psprintf(pool, "%s is not a single value", f->name);
        }
        else {
            problem = take_value(link, f, f->name, text, note, pool);
        }
    }
    return problem;
}

/* The list of links in a document: the document itself, its "data"
 * (Kutt, Shlink 1), or its "shortUrls"'s "data" (Shlink 2 and 3). */
static json_t *json_list(json_t *document)
{
    json_t *list = document;

    if (json_is_object(list) && json_object_get(list, "shortUrls")) {
        list = json_object_get(list, "shortUrls");
    }
    if (json_is_object(list)) {
        list = json_object_get(list, "data");
    }
    return json_is_array(list) ? list : NULL;
}

/* True if in has nothing but white space left. */
static int at_end(FILE *in)
{
    int c;

    while ((c = getc(in)) != EOF) {
        if (!apr_isspace(c)) {
            ungetc(c, in);
            return 0;
        }
    }
    return 1;
}

/*
 * One document after another to the end of the file: a whole list, or
 * the pages of one concatenated (curl's output for each page appended to
 * one file).  Each document is freed before the next is read, so a file of
 * pages takes the memory of one page.
 */
static apr_status_t read_json(const ml_peer *peer, FILE *in,
                              ml_peer_link_fn *take, void *ctx,
                              apr_pool_t *link_pool, const char **problem,
                              apr_uint64_t *place, apr_pool_t *pool)
{
    apr_uint64_t number = 0;
    apr_status_t rv = APR_SUCCESS;

    *problem = NULL;
    while (rv == APR_SUCCESS && !at_end(in)) {
        json_error_t error;
        json_t *document = json_loadf(in, JSON_DISABLE_EOF_CHECK, &error);
        json_t *list = document ? json_list(document) : NULL, *item;
        size_t i;

        if (list == NULL) {
            *problem = document
                ? "no list of links: the JSON is none, nor has one in \"data\""
                  " or \"shortUrls\": {\"data\"}"
                : apr_psprintf(pool, "not JSON, at line %d column %d: %s",
                               error.line, error.column, error.text);
            *place = number + 1;
            json_decref(document);
            return APR_EINVAL;
        }
        json_array_foreach(list, i, item) {
            ml_link link;
            const char *note = NULL;
            *place = ++number;
            if ((*problem = json_link(peer, item, &link, &note, link_pool))
                || (rv = take(ctx, &link, number, note))) {
                rv = *problem ? APR_EINVAL : rv;
                break;
            }
        }
        json_decref(document);
    }
    return rv;
}

/* ---- either ----------------------------------------------------------- */

/* Whether the file is JSON: its first byte after a UTF-8 byte order
 * mark, spaces and tabs opens an object or an array.  Line ends are left
 * alone, so that a CSV file's line numbers stay right. */
static int looks_like_json(FILE *in)
{
    int c = getc(in);

    if (c == 0xEF) {
        if (getc(in) != 0xBB || getc(in) != 0xBF) {
            return 0;
        }
        c = getc(in);
    }
    while (c == ' ' || c == '\t') {
        c = getc(in);
    }
    if (c != EOF) {
        ungetc(c, in);
    }
    return c == '{' || c == '[';
}

int ml_peer_is_json(const ml_peer *peer, FILE *in)
{
    /* A peer's CSV starts with a header name or a slug, never { or [, so
     * the peek decides (and takes a byte order mark off either). */
    return peer->json != NULL && (looks_like_json(in) || peer->csv == NULL);
}

apr_status_t ml_peer_read(const ml_peer *peer, int json, FILE *in,
                          ml_peer_link_fn *take, void *ctx,
                          apr_pool_t *link_pool, const char **problem,
                          apr_uint64_t *place, apr_pool_t *pool)
{
    return json ? read_json(peer, in, take, ctx, link_pool, problem, place,
                            pool)
                : read_csv(peer, in, take, ctx, link_pool, problem, place,
                           pool);
}
