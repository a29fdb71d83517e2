/*
 * module/ratelimit.c - how many links each client address may create.
 *
 * A fixed table of windows in httpd's slotmem (mod_slotmem_shm), shared by
 * every child: fixed-size slots are what slotmem is for, and losing the
 * counts at a restart only forgives a few clients early.  Slotmem has no
 * key index, so a client's slot is found by a keyed hash of its address
 * and a short linear probe; when the probe finds no free slot, the oldest
 * window in it is taken over.  Updates are made under the
 * "minilink-ratelimit" mutex: creation is rare, so a lock costs nothing
 * there, and it keeps the counts exact.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "util_mutex.h"
#include "ap_provider.h"
#include "ap_slotmem.h"
#include "apr_global_mutex.h"

#include "../mod_minilink.h"
#include "../util/ml_siphash.h"

APLOG_USE_MODULE(minilink);

#define RATELIMIT_LOCK "minilink-ratelimit"
#define CLIENT_SLOTS 4096
#define PROBE_SLOTS 8

typedef struct {
    apr_uint64_t client;         /* keyed hash of the address; 0 = free */
    apr_int64_t window_start;    /* Unix seconds */
    apr_uint32_t created;        /* links created in this window */
} client_window;

static const ap_slotmem_provider_t *slotmem;
static ap_slotmem_instance_t *windows;
static apr_global_mutex_t *ratelimit_lock;
static unsigned char address_key[ML_SIPHASH_KEY_BYTES];

const char *ml_ratelimit_check_provider(void)
{
    slotmem = ap_lookup_provider(AP_SLOTMEM_PROVIDER_GROUP, "shm",
                                 AP_SLOTMEM_PROVIDER_VERSION);
    return slotmem ? NULL
           : "MinilinkCreate needs mod_slotmem_shm for its per-client rate "
             "limit: load it before this directive (LoadModule "
             "slotmem_shm_module modules/mod_slotmem_shm.so)";
}

void ml_ratelimit_pre_config(apr_pool_t *pconf)
{
    slotmem = NULL;
    windows = NULL;
    ap_mutex_register(pconf, RATELIMIT_LOCK, NULL, APR_LOCK_DEFAULT, 0);
}

int ml_ratelimit_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_status_t rv;

    if (slotmem == NULL) {
        return OK;              /* no MinilinkCreate On in this configuration */
    }
    /* No name: an anonymous segment, inherited by the children. */
    if ((rv = slotmem->create(&windows, NULL, sizeof(client_window),
                              CLIENT_SLOTS, AP_SLOTMEM_TYPE_PREGRAB, pconf))
        || (rv = ap_global_mutex_create(&ratelimit_lock, NULL, RATELIMIT_LOCK,
                                        NULL, s, pconf, 0))
        || (rv = apr_generate_random_bytes(address_key, sizeof(address_key)))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "ML00017: cannot set up "
                     "the creation rate limit");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void ml_ratelimit_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (ratelimit_lock == NULL || windows == NULL) {
        return;
    }
    rv = apr_global_mutex_child_init(&ratelimit_lock,
                                     apr_global_mutex_lockfile(ratelimit_lock),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "ML00018: cannot attach "
                     "the " RATELIMIT_LOCK " mutex in a child");
    }
}

/*
 * The client's window.  Its own slot if the probe holds one (looked for
 * across the whole probe, or a client could start afresh in an earlier
 * free slot); else the first free or finished one; else the oldest.
 */
static client_window *window_for(apr_uint64_t client, apr_int64_t now,
                                 int period)
{
    client_window *reusable = NULL, *oldest = NULL;
    unsigned int first = (unsigned int)(client % CLIENT_SLOTS), i;

    for (i = 0; i < PROBE_SLOTS; i++) {
        void *slot;
        client_window *window;
        if (slotmem->dptr(windows, (first + i) % CLIENT_SLOTS, &slot)) {
            continue;
        }
        window = slot;
        if (window->client == client) {
            return window;
        }
        if (window->client == 0 || now - window->window_start >= period) {
            reusable = reusable ? reusable : window;
        }
        else if (oldest == NULL || window->window_start < oldest->window_start) {
            oldest = window;
        }
    }
    reusable = reusable ? reusable : oldest;
    if (reusable) {
        reusable->client = client;
        reusable->window_start = now;
        reusable->created = 0;
    }
    return reusable;
}

int ml_ratelimit_allow(request_rec *r, int limit, int period,
                       apr_int64_t *retry_after)
{
    const char *address = r->useragent_ip;
    apr_int64_t now = apr_time_sec(r->request_time);
    apr_uint64_t client;
    client_window *window;
    int allowed = 1;

    if (limit <= 0 || windows == NULL) {
        return 1;
    }
    client = ml_siphash13(address_key, address, strlen(address)) | 1;
    if (apr_global_mutex_lock(ratelimit_lock) != APR_SUCCESS) {
        return 1;               /* never refuse because of our own fault */
    }
    window = window_for(client, now, period);
    if (window) {
        if (now - window->window_start >= period) {
            window->window_start = now;
            window->created = 0;
        }
        if (window->created >= (apr_uint32_t)limit) {
            allowed = 0;
            *retry_after = window->window_start + period - now;
        }
        else {
            window->created++;
        }
    }
    apr_global_mutex_unlock(ratelimit_lock);
    return allowed;
}
