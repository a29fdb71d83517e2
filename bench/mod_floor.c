/*
 * bench/mod_floor.c - the benchmark's floor: a fixed 302 with no lookup.
 *
 *   LoadModule floor_module mod_floor.so
 *   <Location /floor-handler/>
 *       SetHandler floor
 *   </Location>
 *
 * GET /floor-quick/<anything> is answered from the quick_handler hook, the
 * first point where httpd hands a parsed request to a module and can still
 * keep the connection alive after a redirect (an error from
 * post_read_request closes it).  Nothing of httpd's request processing
 * runs: no translate_name, no <Location> walk, no access checks.
 *
 * "SetHandler floor" answers the same redirect as an ordinary content
 * handler, after all of that (and the <Directory> walk and stat()).
 *
 * Both answer the way mod_alias's Redirect and mod_minilink do: Location
 * in headers_out and the status returned, so httpd writes the same
 * headers and "moved" body for every contender.  The difference to
 * mod_minilink is then its lookup and its hook, nothing else.
 */
#include <string.h>
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"

#define FLOOR_PREFIX "/floor-quick/"
/* As long as the benchmark's stored URLs, so every contender sends as many
 * bytes (httpd escapes the URL into the body too). */
#define FLOOR_TARGET "https://news.example.com/2026/11/50000/a-longer-story-title"

module AP_MODULE_DECLARE_DATA floor_module;

static int floor_quick(request_rec *r, int lookup_uri)
{
    /* lookup_uri: a subrequest's lookup, not a request to answer. */
    if (lookup_uri || r->method_number != M_GET
        || strncmp(r->uri, FLOOR_PREFIX, sizeof(FLOOR_PREFIX) - 1) != 0) {
        return DECLINED;
    }
    apr_table_setn(r->headers_out, "Location", FLOOR_TARGET);
    return HTTP_MOVED_TEMPORARILY;
}

static int floor_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "floor") != 0) {
        return DECLINED;
    }
    apr_table_setn(r->headers_out, "Location", FLOOR_TARGET);
    return HTTP_MOVED_TEMPORARILY;
}

static void register_hooks(apr_pool_t *pool)
{
    (void)pool;
    ap_hook_quick_handler(floor_quick, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(floor_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(floor) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    register_hooks
};
