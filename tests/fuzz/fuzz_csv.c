/*
 * fuzz_csv.c - the CSV reader and writer of cli/ml_csv.h.
 *
 * The input is a CSV file, read with ml_csv_read() through fmemopen().
 * Whatever it holds, the reader must not crash, must keep its memory in
 * proportion to the input (measured with the sanitizer allocator's own
 * counters), and must either fail with a problem to show or deliver
 * records whose fields come from the input.  Inputs it accepts are written
 * back with ml_csv_write() and read again: no field a spreadsheet would
 * run as a formula, and once ml_csv_unescape()d the same records, field
 * for field, on the lines the written text puts them.  Stopping from the
 * callback is checked too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* open_memstream(), fmemopen() */
#endif
#include <string.h>
#include <sanitizer/allocator_interface.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include "../../cli/ml_csv.h"
#include "fuzz_common.h"

/* What the reader may hold beyond the input's own size: the 64 KiB read
 * chunk, libcsv's buffer, the pools' blocks and the record's array. */
#define MEMORY_SLACK (1024 * 1024)
#define MEMORY_PER_INPUT_BYTE 64
#define STOPPED APR_OS_START_USERERR

typedef struct {
    int count;
    char **fields;
    apr_uint64_t line;
} record;

typedef struct {
    apr_pool_t *pool;
    record *records;
    int n, cap;
    int stop_after;               /* return STOPPED after this record, or -1 */
    size_t field_bytes;           /* all fields' text */
    size_t memory_base, memory_limit;
} collected;

static apr_pool_t *root;

static void check_memory(const collected *c)
{
    size_t now = __sanitizer_get_current_allocated_bytes();

    CHECK(now < c->memory_base || now - c->memory_base <= c->memory_limit);
}

static apr_status_t on_record(void *ctx, const char *const *fields, int count,
                              apr_uint64_t line)
{
    collected *c = ctx;
    record *r;
    size_t bytes = 0;
    int i;

    check_memory(c);
    CHECK(count >= 1);
    CHECK(line >= 1);
    CHECK(c->n == 0 || line >= c->records[c->n - 1].line);
    if (c->n == c->cap) {
        record *grown;
        c->cap = c->cap ? c->cap * 2 : 16;
        grown = apr_palloc(c->pool, sizeof(record) * c->cap);
        if (c->n) {
            memcpy(grown, c->records, sizeof(record) * c->n);
        }
        c->records = grown;
    }
    r = &c->records[c->n++];
    r->count = count;
    r->line = line;
    r->fields = apr_palloc(c->pool, sizeof(char *) * count);
    for (i = 0; i < count; i++) {
        CHECK(fields[i] != NULL);
        r->fields[i] = apr_pstrdup(c->pool, fields[i]);
        bytes += strlen(fields[i]) + 1;
        c->field_bytes += strlen(fields[i]);
    }
    CHECK(bytes <= ML_CSV_RECORD_MAX);
    if (c->stop_after >= 0 && c->n > c->stop_after) {
        return STOPPED;
    }
    return APR_SUCCESS;
}

static size_t count_lf(const char *s, size_t len)
{
    size_t n = 0, i;

    for (i = 0; i < len; i++) {
        n += s[i] == '\n';
    }
    return n;
}

/* Reads text[0..len) into c; returns ml_csv_read()'s status. */
static apr_status_t read_csv(const char *text, size_t len, collected *c,
                             const char **problem, apr_uint64_t *line)
{
    FILE *in;
    apr_status_t rv;

    /* fmemopen() may refuse a size of 0: an empty file is /dev/null. */
    in = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "r");
    CHECK(in != NULL);
    c->memory_base = __sanitizer_get_current_allocated_bytes();
    c->memory_limit = MEMORY_SLACK + MEMORY_PER_INPUT_BYTE * len;
    rv = ml_csv_read(in, on_record, c, problem, line, c->pool);
    check_memory(c);
    fclose(in);

    CHECK(*line >= 1 && *line <= 1 + count_lf(text, len));
    if (rv == APR_SUCCESS || rv == STOPPED) {
        CHECK(*problem == NULL);
    }
    else {
        /* The input is at fault, and the message says how. */
        CHECK(rv == APR_EINVAL || rv == APR_ENOMEM);
        CHECK(*problem != NULL && (*problem)[0] != '\0');
    }
    /* Every byte of a field comes from a byte of the input. */
    CHECK(c->field_bytes <= len);
    return rv;
}

static void check_same(const collected *a, const collected *b, int n)
{
    int i, j;

    for (i = 0; i < n; i++) {
        CHECK(a->records[i].count == b->records[i].count);
        for (j = 0; j < a->records[i].count; j++) {
            CHECK(strcmp(a->records[i].fields[j], b->records[i].fields[j]) == 0);
        }
    }
}

/* The written records read again: what ml_csv_write() made safe for
 * spreadsheets is exactly the first reading once unescaped. */
static void check_written(const collected *first, const collected *again)
{
    int i, j, marked;

    for (i = 0; i < first->n; i++) {
        CHECK(first->records[i].count == again->records[i].count);
        for (j = 0; j < first->records[i].count; j++) {
            const char *original = first->records[i].fields[j];
            const char *read = again->records[i].fields[j];
            CHECK(read[0] == '\0' || strchr("=+-@\t\r", read[0]) == NULL);
            CHECK(strcmp(ml_csv_unescape(read, &marked), original) == 0);
            CHECK(marked == (original[0] != '\0'
                             && strchr("=+-@\t\r'", original[0]) != NULL));
        }
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    collected first = {0}, again = {0}, stopped = {0};
    const char *problem;
    apr_uint64_t line;
    apr_status_t rv;
    apr_pool_t *pool;
    char *written = NULL;
    size_t written_len = 0;
    size_t *starts;
    FILE *out;
    int i;

    if (root == NULL) {
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&pool, root);
    first.pool = again.pool = stopped.pool = pool;
    first.stop_after = again.stop_after = -1;

    rv = read_csv((const char *)data, size, &first, &problem, &line);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return 0;
    }

    /* Write the records back, noting where each starts. */
    starts = apr_palloc(pool, sizeof(size_t) * (first.n + 1));
    out = open_memstream(&written, &written_len);
    CHECK(out != NULL);
    for (i = 0; i < first.n; i++) {
        fflush(out);
        starts[i] = written_len;
        CHECK(ml_csv_write(out, (const char *const *)first.records[i].fields,
                           first.records[i].count) == APR_SUCCESS);
    }
    CHECK(fclose(out) == 0);

    /* ... and read them again: the same fields, each record on the line
     * that the written text starts it on. */
    rv = read_csv(written, written_len, &again, &problem, &line);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "re-reading the written CSV failed: %s (line %lu)\n",
                problem ? problem : "?", (unsigned long)line);
    }
    CHECK(rv == APR_SUCCESS);
    CHECK(again.n == first.n);
    check_written(&first, &again);
    for (i = 0; i < again.n; i++) {
        CHECK(again.records[i].line == 1 + count_lf(written, starts[i]));
    }

    /* A callback's status stops the reading after that record. */
    if (first.n >= 2) {
        stopped.stop_after = first.n / 2;
        rv = read_csv((const char *)data, size, &stopped, &problem, &line);
        CHECK(rv == STOPPED);
        CHECK(stopped.n == first.n / 2 + 1);
        check_same(&first, &stopped, stopped.n);
    }

    free(written);
    apr_pool_destroy(pool);
    return 0;
}
