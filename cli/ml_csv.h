/*
 * ml_csv.h - reading and writing CSV records (RFC 4180), on top of libcsv.
 *
 * Knows nothing about links: the minilink command gives the fields their
 * meaning.  Kept apart from the command's main() so it can be tested and
 * fuzzed on its own (fmemopen() turns a fuzzer's buffer into a FILE).
 * Depends on libcsv and APR only.
 */
#ifndef ML_CSV_H
#define ML_CSV_H

#include <stdio.h>
#include <apr_pools.h>

/*
 * The most bytes of field text a record may hold (1 MiB): a longer one is
 * refused instead of filling the memory.  A plain number, for messages.
 */
#define ML_CSV_RECORD_MAX 1048576

/*
 * Called for each record.  fields[0..count) are NUL-terminated and live
 * until the callback returns; line is the line the record starts on,
 * counting from 1 (a record whose quoted fields hold line breaks spans
 * several lines).  A non-zero return stops the reading and is returned by
 * ml_csv_read().
 */
typedef apr_status_t ml_csv_record_fn(void *ctx, const char *const *fields,
                                      int count, apr_uint64_t line);

/*
 * Reads CSV from in to its end and calls record() for each record.  Lines
 * may end with CRLF or LF; empty lines are skipped; spaces around an
 * unquoted field are dropped (libcsv's rule); a UTF-8 byte order mark at
 * the start (what spreadsheets save) is skipped.  Fields come as written:
 * ml_csv_unescape() undoes what ml_csv_write() added for spreadsheets.
 *
 * Returns APR_SUCCESS; or the callback's non-zero status, with *problem
 * NULL; or, when the input itself is at fault, an error with *problem set to
 * a sentence saying what is wrong: APR_EINVAL for malformed CSV (a stray or
 * unterminated quote, a NUL byte, a record over ML_CSV_RECORD_MAX), the
 * errno status when in cannot be read, APR_ENOMEM.  *line is then the line
 * where the record in question starts.  Allocates from pool (a subpool is
 * cleared after each record).
 */
apr_status_t ml_csv_read(FILE *in, ml_csv_record_fn *record, void *ctx,
                         const char **problem, apr_uint64_t *line,
                         apr_pool_t *pool);

/*
 * Writes one record of count NUL-terminated fields to out, ending with CRLF
 * as RFC 4180 says.  A field a spreadsheet would run as a formula - one
 * that starts with = + - @, a tab or a CR (OWASP's list for CSV injection)
 * - gets a ' before it, which spreadsheets show as text; so does one that
 * starts with ' itself, so that ml_csv_unescape() can tell them apart.  A
 * field is quoted only when it has to be: when it holds a comma, a quote
 * or a line break, starts or ends with a space or a tab, or starts with a
 * byte order mark (which a reader would otherwise drop).  Returns APR_SUCCESS or the errno status of the
 * failed write.
 */
apr_status_t ml_csv_write(FILE *out, const char *const *fields, int count);

/*
 * A field as it was before ml_csv_write() made it safe for spreadsheets:
 * without the ' it added.  *escaped (if not NULL) says whether there was
 * one.  Every field comes back exactly after write, read and unescape.
 */
const char *ml_csv_unescape(const char *field, int *escaped);

#endif /* ML_CSV_H */
