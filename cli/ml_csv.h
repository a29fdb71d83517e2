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
 * unquoted field are dropped (libcsv's rule).
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
 * as RFC 4180 says.  A field is quoted only when it has to be: when it holds
 * a comma, a quote or a line break, or starts or ends with a space or a tab
 * (which a reader would otherwise drop).  Returns APR_SUCCESS or the errno
 * status of the failed write.
 */
apr_status_t ml_csv_write(FILE *out, const char *const *fields, int count);

#endif /* ML_CSV_H */
