/*
 * fuzz_api.c - what the management APIs read from a client that is not
 * the server's own: a Shlink ShortUrl's JSON fields
 * (links/ml_shlink_fields.h) and a multipart/form-data body as YOURLS
 * clients post it (links/ml_multipart.h).
 *
 * The input is JSON 0xFF Content-Type 0xFF body.  Whatever it holds,
 * nothing may crash.  JSON the field reader accepts must give a link whose
 * fields keep their rules: tags sorted, each once, each a valid tag;
 * a title that ml_title_problem() accepts; a visit limit in range; flags
 * 0 or 1.  A multipart body read without a problem gives fields whose
 * names and values all stand in the body (nothing made up, nothing read
 * past its end).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* memmem() */
#endif
#include <string.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <jansson.h>
#include "../../links/ml_multipart.h"
#include "../../links/ml_shlink_fields.h"
#include "fuzz_common.h"

/* The next 0xFF-separated piece of the input (the rest if none). */
static const unsigned char *piece(const unsigned char **at,
                                  const unsigned char *end, size_t *len)
{
    const unsigned char *start = *at;
    const unsigned char *stop = memchr(start, 0xFF, (size_t)(end - start));

    *len = (size_t)((stop ? stop : end) - start);
    *at = stop ? stop + 1 : end;
    return start;
}

static void check_fields(const unsigned char *text, size_t len,
                         apr_pool_t *pool)
{
    json_t *body = json_loadb((const char *)text, len, 0, NULL);
    const char *field = NULL;
    ml_link link;
    int i;

    if (body == NULL) {
        return;
    }
    memset(&link, 0, sizeof(link));
    if (ml_shlink_read_fields(body, &link, &field, pool) == NULL) {
        for (i = 0; link.tags && i < link.tags->nelts; i++) {
            const char *tag = APR_ARRAY_IDX(link.tags, i, const char *);
            CHECK(ml_tag_problem(tag) == NULL);
            CHECK(i == 0 || strcmp(APR_ARRAY_IDX(link.tags, i - 1,
                                                 const char *), tag) < 0);
        }
        CHECK(link.title == NULL || ml_title_problem(link.title) == NULL);
        CHECK(link.max_visits >= 0 && link.max_visits <= ML_MAX_VISITS_MAX);
        CHECK(link.crawlable == 0 || link.crawlable == 1);
        CHECK(link.forward_query == ML_CHOICE_DEFAULT
              || link.forward_query == ML_CHOICE_ON
              || link.forward_query == ML_CHOICE_OFF);
    }
    else {
        CHECK(field != NULL);
    }
    json_decref(body);
}

typedef struct {
    const char *body;
    size_t len;
} in_body;

static int stands_in_body(void *ctx, const char *name, const char *value)
{
    const in_body *b = ctx;

    CHECK(memmem(b->body, b->len, name, strlen(name)) != NULL);
    CHECK(*value == '\0' || memmem(b->body, b->len, value, strlen(value)) != NULL);
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const unsigned char *at = data, *end = data + size, *json, *type, *body;
    size_t json_len, type_len, body_len;
    apr_pool_t *pool;
    apr_table_t *fields;
    in_body b;

    apr_pool_create(&pool, NULL);
    json = piece(&at, end, &json_len);
    type = piece(&at, end, &type_len);
    body = piece(&at, end, &body_len);
    check_fields(json, json_len, pool);
    fields = apr_table_make(pool, 4);
    /* Copies: the reader may not look past the end of what it is given. */
    b.body = apr_pmemdup(pool, body, body_len);
    b.len = body_len;
    if (ml_multipart_fields(apr_pstrmemdup(pool, (const char *)type, type_len),
                            b.body, b.len, fields, pool) == NULL) {
        apr_table_do(stands_in_body, &b, fields, NULL);
    }
    apr_pool_destroy(pool);
    return 0;
}
