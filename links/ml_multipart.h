/*
 * ml_multipart.h - the fields of a multipart/form-data body (RFC 7578),
 * as ShareX and other share-to-shorten clients post them to YOURLS' API.
 * Depends on APR only.
 */
#ifndef ML_MULTIPART_H
#define ML_MULTIPART_H

#include <apr_tables.h>

/*
 * Adds each part's name and value to fields (a value holding a NUL is
 * left out).  content_type is the request's header, with its boundary.
 * NULL, or why the body is not multipart/form-data this can read.
 */
const char *ml_multipart_fields(const char *content_type, const char *body,
                                apr_size_t len, apr_table_t *fields,
                                apr_pool_t *pool);

#endif /* ML_MULTIPART_H */
