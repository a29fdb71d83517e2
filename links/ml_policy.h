/*
 * ml_policy.h - what a visitor may shorten through the web page or the API.
 *
 * Stricter than what may be stored (ml_link.h): the admin picks the schemes,
 * a maximum length and hosts to refuse, and links back to the shortener
 * itself are refused because they would redirect in a loop.  Hosts are
 * compared as browsers see them (ml_host.h), never as typed.  The CLI, used
 * by admins, is not bound by it.  Depends on APR only.
 */
#ifndef ML_POLICY_H
#define ML_POLICY_H

#include <apr_tables.h>
#include "ml_host.h"
#include "ml_link.h"

#define ML_SCHEME_HTTP 1
#define ML_SCHEME_HTTPS 2

typedef struct {
    int schemes;                       /* ML_SCHEME_* bits */
    apr_size_t max_url_length;
    const apr_array_header_t *blocked_hosts;  /* ml_host; NULL = none */
} ml_create_policy;

/*
 * NULL if a visitor may shorten url, otherwise the reason, as a sentence.
 * own_hosts (ml_host) are the names and addresses this server answers to;
 * the local host's (ml_host_is_local) always count among them.  A blocked
 * or own name also covers its subdomains.
 */
const char *ml_create_problem(const ml_create_policy *policy, const char *url,
                              const apr_array_header_t *own_hosts,
                              apr_pool_t *pool);

/*
 * True if a visitor may not choose slug, whatever the location: names of
 * pages httpd and this module serve themselves (server-status,
 * server-info, balancer-manager, minilink-admin) and names a site root
 * usually serves or negotiates to a file (favicon, robots, sitemap,
 * apple-touch-icon), in any case.
 */
int ml_slug_reserved(const char *slug);

#endif /* ML_POLICY_H */
