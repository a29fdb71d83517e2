/*
 * ml_policy.c - what a visitor may shorten.
 */
#include <string.h>
#include <apr_strings.h>
#include "ml_policy.h"

/* True if host is name or a subdomain of it ("a.example.com", "example.com"). */
static int host_within(const char *host, const char *name)
{
    apr_size_t host_len = strlen(host), name_len = strlen(name);

    return strcmp(host, name) == 0
           || (host_len > name_len && host[host_len - name_len - 1] == '.'
               && strcmp(host + host_len - name_len, name) == 0);
}

static const char *first_within(const char *host,
                                const apr_array_header_t *names)
{
    int i;

    for (i = 0; names && i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        if (host_within(host, name)) {
            return name;
        }
    }
    return NULL;
}

const char *ml_create_problem(const ml_create_policy *policy, const char *url,
                              const apr_array_header_t *own_hosts,
                              apr_pool_t *pool)
{
    apr_size_t len = strlen(url);
    const char *problem = ml_url_problem(url, len), *host, *name;
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
    host = ml_url_host(pool, url);
    if (first_within(host, own_hosts)) {
        return "links to this shortener itself are refused: they would "
               "redirect in a loop";
    }
    if ((name = first_within(host, policy->blocked_hosts)) != NULL) {
        return apr_psprintf(pool, "links to %s are not accepted here", name);
    }
    return NULL;
}
