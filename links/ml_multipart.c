/*
 * ml_multipart.c - the fields of a multipart/form-data body (RFC 7578).
 *
 * Written here because httpd reads only urlencoded forms
 * (ap_parse_form_data), and Debian's C library for the rest, libapreq2,
 * is an Apache module with input filters of its own: a lot to load for
 * the few short text fields a YOURLS client posts.  The body is in memory
 * already (at most the API's limit); this only splits it.
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include "ml_multipart.h"

#define BOUNDARY_MAX 70          /* RFC 2046's limit */

/* A parameter's value in a header ("boundary=", "name="), unquoted; NULL
 * if it is not there.  name includes its '='. */
static const char *parameter(const char *header, apr_size_t len,
                             const char *name, apr_pool_t *pool)
{
    apr_size_t name_len = strlen(name), i;

    for (i = 0; i + name_len <= len; i++) {
        const char *at = header + i, *end;
        if (strncasecmp(at, name, name_len) != 0
            || (i > 0 && header[i - 1] != ';' && header[i - 1] != ' '
                && header[i - 1] != '\t')) {
            continue;
        }
        at += name_len;
        if (at < header + len && *at == '"') {
            end = memchr(at + 1, '"', (apr_size_t)(header + len - at - 1));
            return end ? apr_pstrmemdup(pool, at + 1, (apr_size_t)(end - at - 1))
                       : NULL;
        }
        for (end = at; end < header + len && *end != ';' && *end != ' '
             && *end != '\t' && *end != '\r'; end++) {
        }
        return apr_pstrmemdup(pool, at, (apr_size_t)(end - at));
    }
    return NULL;
}

/* The name of a part, from its headers' Content-Disposition: form-data. */
static const char *part_name(const char *headers, apr_size_t len,
                             apr_pool_t *pool)
{
    const char *line = headers, *end = headers + len;

    while (line < end) {
        const char *eol = memchr(line, '\n', (apr_size_t)(end - line));
        apr_size_t line_len = (apr_size_t)((eol ? eol : end) - line);
        if (line_len > 20 && strncasecmp(line, "Content-Disposition:", 20) == 0) {
            return parameter(line + 20, line_len - 20, "name=", pool);
        }
        line = eol ? eol + 1 : end;
    }
    return NULL;
}

const char *ml_multipart_fields(const char *content_type, const char *body,
                                apr_size_t len, apr_table_t *fields,
                                apr_pool_t *pool)
{
    const char *boundary = content_type
        ? parameter(content_type, strlen(content_type), "boundary=", pool)
        : NULL;
    const char *delimiter, *at, *end = body + len;
    apr_size_t delimiter_len;

    if (boundary == NULL || *boundary == '\0'
        || strlen(boundary) > BOUNDARY_MAX) {
        return "a multipart/form-data body needs a boundary of 1 to 70 characters";
    }
    /* Parts start after "--boundary" and end before "\r\n--boundary". */
    delimiter = apr_pstrcat(pool, "--", boundary, NULL);
    delimiter_len = strlen(delimiter);
    at = memmem(body, len, delimiter, delimiter_len);
    if (at == NULL) {
        return "the body has no part";
    }
    for (;;) {
        const char *headers, *blank, *next, *name;
        at += delimiter_len;
        if (end - at >= 2 && at[0] == '-' && at[1] == '-') {
            return NULL;                       /* the closing delimiter */
        }
        if (end - at < 2 || at[0] != '\r' || at[1] != '\n') {
            return "a part's delimiter is not followed by a line end";
        }
        headers = at + 2;
        blank = memmem(headers, (apr_size_t)(end - headers), "\r\n\r\n", 4);
        if (blank == NULL) {
            return "a part has no blank line after its headers";
        }
        next = memmem(blank + 4, (apr_size_t)(end - blank - 4), delimiter,
                      delimiter_len);
        if (next == NULL || next - (blank + 4) < 2
            || next[-2] != '\r' || next[-1] != '\n') {
            return "a part is not closed by the boundary";
        }
        name = part_name(headers, (apr_size_t)(blank - headers), pool);
        if (name == NULL || *name == '\0') {
            return "a part has no form-data name";
        }
        {
            apr_size_t value_len = (apr_size_t)(next - 2 - (blank + 4));
            const char *value = apr_pstrmemdup(pool, blank + 4, value_len);
            if (strlen(value) == value_len) {
                apr_table_set(fields, name, value);
            }
        }
        at = next;
    }
}
