/*
 * module/robots.c - GET <prefix>/robots.txt: which short links crawlers
 * may follow.
 *
 * As Shlink's: each crawlable link allowed, everything else under the
 * location disallowed; links are not crawlable unless they say so
 * (--crawlable).  Answered from the shared table, which knows each link's
 * flag: no database read, however many links there are (a walk of the
 * table, a few milliseconds for a million).
 */
#include <stdlib.h>
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "apr_tables.h"

#include "ml_module.h"

typedef struct {
    apr_array_header_t *slugs;   /* const char *, the crawlable ones */
    apr_pool_t *pool;
} crawlable_links;

static apr_status_t note_crawlable(void *ctx, const char *slug, apr_size_t len,
                                   const ml_cache_entry *entry)
{
    crawlable_links *found = ctx;
    ml_cache_rules rules;

    if (entry->extension) {
        ml_cache_rules_of(entry, &rules);
        if (rules.crawlable) {
            APR_ARRAY_PUSH(found->slugs, const char *) =
                apr_pstrmemdup(found->pool, slug, len);
        }
    }
    return APR_SUCCESS;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ml_handle_robots(request_rec *r, const ml_dir_config *conf)
{
    const char *prefix = ml_prefix_of(r);
    crawlable_links found;
    int i;

    if (r->method_number != M_GET) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (conf->database->cache == NULL) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    found.slugs = apr_array_make(r->pool, 16, sizeof(const char *));
    found.pool = r->pool;
    ml_cache_each_link(conf->database->cache, note_crawlable, &found);
    /* The table's order is its hash's: sorted, the file reads the same
     * from one request to the next. */
    qsort(found.slugs->elts, (size_t)found.slugs->nelts, sizeof(const char *),
          by_name);
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_rputs("# For more information about the robots.txt standard, see:\n"
             "# https://www.robotstxt.org/orig.html\n\nUser-agent: *\n", r);
    for (i = 0; i < found.slugs->nelts; i++) {
        ap_rprintf(r, "Allow: %s%s\n", prefix,
                   APR_ARRAY_IDX(found.slugs, i, const char *));
    }
    ap_rprintf(r, "Disallow: %s\n", prefix);
    return OK;
}
