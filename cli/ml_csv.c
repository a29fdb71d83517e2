/*
 * ml_csv.c - CSV records in and out, on top of libcsv.
 *
 * libcsv does the quoting rules; this file adds what it lacks: line numbers
 * for messages, a record as one array of fields, limits on memory, quoting
 * a written field only when needed, a byte order mark, and fields a
 * spreadsheet would run as formulas.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <csv.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include "ml_csv.h"

#define READ_CHUNK 65536
/* What a spreadsheet prefixes a UTF-8 file with. */
#define BYTE_ORDER_MARK "\xEF\xBB\xBF"
/* The first characters that make a spreadsheet evaluate a cell (OWASP,
 * "CSV Injection"), and the mark that keeps it text: written before such a
 * field, and before one that starts with the mark itself. */
#define FORMULA_STARTS "=+-@\t\r"
#define TEXT_MARK '\''

/*
 * CSV_STRICT: a stray quote is an error, not guessed at.  CSV_STRICT_FINI:
 * so is a quoted field still open at the end of the input (without it
 * libcsv silently closes it).  CSV_APPEND_NULL: fields come NUL-terminated.
 */
#define PARSER_OPTIONS (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

typedef struct {
    struct csv_parser parser;
    ml_csv_record_fn *record;
    void *ctx;
    apr_pool_t *record_pool;      /* the current record's fields */
    apr_array_header_t *fields;   /* const char *, from record_pool */
    apr_size_t record_bytes;
    apr_uint64_t line;            /* the line being read, from 1 */
    apr_uint64_t record_line;     /* where the current record starts, or 0
                                     between records */
    apr_status_t status;          /* the first failure; stops the reading */
    const char *problem;          /* what is wrong when the input is at fault */
} reader;

#define STRING(x) #x
#define EXPANDED_STRING(x) STRING(x)

static const char too_long[] = "the record is longer than "
    EXPANDED_STRING(ML_CSV_RECORD_MAX) " bytes (is this a CSV file?)";

/* Notes the first failure due to the input; later ones are its echoes. */
static void input_failed(reader *r, apr_status_t status, const char *problem)
{
    if (r->status == APR_SUCCESS) {
        r->status = status;
        r->problem = problem;
    }
}

/* libcsv's end-of-field callback: keeps a copy of the field. */
static void field_done(void *data, size_t len, void *ctx)
{
    reader *r = ctx;
    const char *text = data ? data : "";

    if (r->status != APR_SUCCESS) {
        return;
    }
    /* CSV_APPEND_NULL ends the field with a NUL, so an earlier one is
     * inside the field, where every caller would silently cut it short. */
    if (strlen(text) != len) {
        input_failed(r, APR_EINVAL, "a field contains a NUL byte "
                     "(is this a CSV text file?)");
        return;
    }
    r->record_bytes += len + 1;
    if (r->record_bytes > ML_CSV_RECORD_MAX) {
        input_failed(r, APR_EINVAL, too_long);
        return;
    }
    APR_ARRAY_PUSH(r->fields, const char *) =
        apr_pstrmemdup(r->record_pool, text, len);
}

/* libcsv's end-of-record callback: hands the record over, then forgets it. */
static void record_done(int terminator, void *ctx)
{
    reader *r = ctx;

    (void)terminator;
    if (r->status != APR_SUCCESS) {
        return;
    }
    r->status = r->record(r->ctx, (const char *const *)r->fields->elts,
                          r->fields->nelts, r->record_line);
    if (r->status == APR_SUCCESS) {
        apr_array_clear(r->fields);
        apr_pool_clear(r->record_pool);
        r->record_bytes = 0;
        r->record_line = 0;
    }
}

/* Why libcsv stopped, as the reader's failure. */
static void parser_failed(reader *r)
{
    switch (csv_error(&r->parser)) {
    case CSV_EPARSE:
        input_failed(r, APR_EINVAL, "malformed CSV: a quote inside a field "
                     "that does not start with one, or text after a closing "
                     "quote (a quote inside quotes is written \"\")");
        break;
    case CSV_ENOMEM:
        input_failed(r, APR_ENOMEM, "out of memory");
        break;
    default:
        input_failed(r, APR_EINVAL, too_long);
    }
}

/*
 * True if text[0..len) has a byte other than blanks and line ends.  Between
 * records libcsv skips those, and a record starts at any other byte.
 */
static int has_content(const char *text, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r'
            && text[i] != '\n') {
            return 1;
        }
    }
    return 0;
}

/*
 * Feeds one piece of input to libcsv.  A piece ends after its first CR or
 * LF, if it has one.  libcsv's callbacks do not say where they are in the
 * input, but a record can only end at a CR or LF, so it ends at the end of
 * a piece, and before each piece we know whether a record is open.
 */
static void feed_piece(reader *r, const char *text, apr_size_t len)
{
    if (r->record_line == 0 && has_content(text, len)) {
        r->record_line = r->line;
    }
    if (csv_parse(&r->parser, text, len, field_done, record_done, r) != len) {
        parser_failed(r);
    }
    /* libcsv keeps the field being read in one buffer: bound it too. */
    else if (csv_get_buffer_size(&r->parser) > ML_CSV_RECORD_MAX) {
        input_failed(r, APR_EINVAL, too_long);
    }
    /* Lines are counted by LF, so CRLF counts once. */
    if (r->status == APR_SUCCESS && text[len - 1] == '\n') {
        r->line++;
    }
}

static void feed_chunk(reader *r, const char *chunk, apr_size_t len)
{
    while (len > 0 && r->status == APR_SUCCESS) {
        apr_size_t piece = 0;

        while (piece < len && chunk[piece] != '\n' && chunk[piece] != '\r') {
            piece++;
        }
        piece += piece < len;   /* the line end belongs to its piece */
        feed_piece(r, chunk, piece);
        chunk += piece;
        len -= piece;
    }
}

static void read_all(reader *r, FILE *in, apr_pool_t *pool)
{
    char *chunk = apr_palloc(pool, READ_CHUNK);
    size_t got;
    int first = 1;

    errno = 0;
    while (r->status == APR_SUCCESS
           && (got = fread(chunk, 1, READ_CHUNK, in)) > 0) {
        /* fread() fills the chunk unless the input ends, so a mark at
         * the start of a longer file is all in the first one. */
        apr_size_t skip = first && got >= 3
                          && memcmp(chunk, BYTE_ORDER_MARK, 3) == 0 ? 3 : 0;
        first = 0;
        feed_chunk(r, chunk + skip, got - skip);
    }
    if (r->status == APR_SUCCESS && ferror(in)) {
        int error = errno ? errno : EIO;
        input_failed(r, APR_FROM_OS_ERROR(error),
                     apr_psprintf(pool, "cannot read it: %s", strerror(error)));
    }
    /* The last record may lack its line end; csv_fini() ends it. */
    if (r->status == APR_SUCCESS
        && csv_fini(&r->parser, field_done, record_done, r) != 0) {
        input_failed(r, APR_EINVAL, "a quoted field is never closed: the "
                     "input ends inside quotes (a \" is missing)");
    }
}

apr_status_t ml_csv_read(FILE *in, ml_csv_record_fn *record, void *ctx,
                         const char **problem, apr_uint64_t *line,
                         apr_pool_t *pool)
{
    reader r = { .record = record, .ctx = ctx, .line = 1 };

    if (csv_init(&r.parser, PARSER_OPTIONS) != 0) {
        *problem = "out of memory";
        *line = 1;
        return APR_ENOMEM;
    }
    apr_pool_create(&r.record_pool, pool);
    r.fields = apr_array_make(pool, 8, sizeof(const char *));
    read_all(&r, in, pool);
    csv_free(&r.parser);
    apr_pool_destroy(r.record_pool);
    *problem = r.problem;
    *line = r.record_line ? r.record_line : r.line;
    return r.status;
}

/*
 * True if a reader would not get the field back unquoted: it holds a
 * delimiter, a quote or a line end, or has blanks at an end (libcsv drops
 * those), or starts with a byte order mark (dropped at the start of a
 * file).  A record of one empty field is quoted too: its line would be
 * empty, and readers skip empty lines.
 */
static int needs_quotes(const char *field, int count)
{
    apr_size_t len = strlen(field);

    if (len == 0) {
        return count == 1;
    }
    return strpbrk(field, ",\"\r\n") != NULL
        || strchr(" \t", field[0]) || strchr(" \t", field[len - 1])
        || strncmp(field, BYTE_ORDER_MARK, 3) == 0;
}

static int write_field(FILE *out, const char *field, int count)
{
    char *marked = NULL;
    int ok;

    if (field[0] != '\0'
        && (strchr(FORMULA_STARTS, field[0]) || field[0] == TEXT_MARK)) {
        if ((marked = malloc(strlen(field) + 2)) == NULL) {
            errno = ENOMEM;
            return 0;
        }
        marked[0] = TEXT_MARK;
        strcpy(marked + 1, field);
        field = marked;
    }
    ok = needs_quotes(field, count)
         ? csv_fwrite(out, field, strlen(field)) == 0
         : fputs(field, out) != EOF;
    free(marked);
    return ok;
}

const char *ml_csv_unescape(const char *field, int *escaped)
{
    int marked = field[0] == TEXT_MARK;

    if (escaped) {
        *escaped = marked;
    }
    return field + marked;
}

apr_status_t ml_csv_write(FILE *out, const char *const *fields, int count)
{
    int i, ok = 1;

    errno = 0;   /* so that errno below is this write's */
    for (i = 0; i < count && ok; i++) {
        ok = (i == 0 || putc(',', out) != EOF)
             && write_field(out, fields[i], count);
    }
    if (ok && fputs("\r\n", out) != EOF) {
        return APR_SUCCESS;
    }
    return APR_FROM_OS_ERROR(errno ? errno : EIO);
}
