/*
 * ml_policy.c - what a visitor may shorten.
 */
#include <string.h>
#include <apr_strings.h>
#include "ml_policy.h"

static const char *const reserved_slugs[] = {
    "server-status", "server-info", "balancer-manager", "minilink-admin",
    "favicon", "robots", "sitemap", "apple-touch-icon",
};

int ml_slug_reserved(const char *slug)
{
    apr_size_t i;

    for (i = 0; i < sizeof(reserved_slugs) / sizeof(reserved_slugs[0]); i++) {
        if (strcasecmp(slug, reserved_slugs[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *ml_create_problem(const ml_create_policy *policy, const char *url,
                              const apr_array_header_t *own_hosts,
                              apr_pool_t *pool)
{
    apr_size_t len = strlen(url);
    const char *problem = ml_url_problem(url, len), *raw_host;
    const ml_host *name;
    ml_host host;
    int https = len > 5 && strncasecmp(url, "https", 5) == 0;

    if (problem) {
        return problem;
    }
    if (len > policy->max_url_length) {
        return apr_psprintf(pool, "the URL is longer than the %" APR_SIZE_T_FMT
                            " bytes this shortener accepts",
                            policy->max_url_length);
    }
    if (!(policy->schemes & (https ? ML_SCHEME_HTTPS : ML_SCHEME_HTTP))) {
        return https ? "this shortener does not accept https:// links"
                     : "this shortener accepts only https:// links";
    }
    raw_host = ml_url_host(pool, url);
    if ((problem = ml_host_parse(pool, raw_host, strlen(raw_host), &host))) {
        return problem;
    }
    if (ml_host_is_local(&host) || ml_host_first_within(&host, own_hosts)) {
        return "links to this shortener itself are refused: they would "
               "redirect in a loop";
    }
    if ((name = ml_host_first_within(&host, policy->blocked_hosts)) != NULL) {
        return apr_psprintf(pool, "links to %s are not accepted here",
                            name->text);
    }
    return NULL;
}
