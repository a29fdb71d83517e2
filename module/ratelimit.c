/*
 * module/ratelimit.c - how many links each client address may create, and
 * how many wrong passwords it may try for each link.
 *
 * A fixed table of windows in httpd's slotmem (mod_slotmem_shm), shared by
 * every child: fixed-size slots are what slotmem is for, and losing the
 * counts at a restart only forgives a few clients early.  Slotmem has no
 * key index, so a client's slot is found by a keyed hash of its address
 * and a short linear probe; when the probe finds no free slot, the oldest
 * window in it is taken over.  Updates are made under the
 * "minilink-ratelimit" mutex: creation is rare, so a lock costs nothing
 * there, and it keeps the counts exact.  The slots, the mutex and the
 * hash key are the generation's (lifecycle.c).  Creations are keyed by
 * the address, guesses by the address and the slug (with a byte between
 * them no address holds), so they share the slots without meeting.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "ap_provider.h"
#include "ap_slotmem.h"
#include "apr_global_mutex.h"

#include "ml_module.h"

APLOG_USE_MODULE(minilink);

#define PROBE_SLOTS 8

typedef struct {
    apr_uint64_t client;         /* keyed hash of the address (and slug);
                                  * 0 = free */
    apr_int64_t window_start;    /* Unix seconds */
    apr_uint32_t created;        /* links created, or wrong guesses, in
                                  * this window */
} client_window;

const char *ml_ratelimit_check_provider(void)
{
    return ap_lookup_provider(AP_SLOTMEM_PROVIDER_GROUP, "shm",
                              AP_SLOTMEM_PROVIDER_VERSION)
           ? NULL
           : "MinilinkCreate needs mod_slotmem_shm for its per-client rate "
             "limit: load it before this directive (LoadModule "
             "slotmem_shm_module modules/mod_slotmem_shm.so)";
}

apr_size_t ml_ratelimit_window_bytes(void)
{
    return sizeof(client_window);
}

/*
 * The client's window.  Its own slot if the probe holds one (looked for
 * across the whole probe, or a client could start afresh in an earlier
 * free slot); else the first free or finished one; else the oldest.
 */
static client_window *window_for(const ml_generation *generation,
                                 apr_uint64_t client, apr_int64_t now,
                                 int period)
{
    client_window *reusable = NULL, *oldest = NULL;
    unsigned int first = (unsigned int)(client % ML_RATE_WINDOWS), i;

    for (i = 0; i < PROBE_SLOTS; i++) {
        void *slot;
        client_window *window;
        if (generation->slotmem->dptr(generation->rate_windows,
                                      (first + i) % ML_RATE_WINDOWS, &slot)) {
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

/* 1 if the window of client (its keyed hash) has room for one more
 * (counted if count), else 0 with *retry_after; -1 when there are no
 * windows. */
static int window_allows(request_rec *r, const char *client_text, int limit,
                         int period, int count, apr_int64_t *retry_after)
{
    const ml_generation *generation = ml_generation_now();
    apr_int64_t now = apr_time_sec(r->request_time);
    apr_uint64_t client;
    client_window *window;
    int allowed = 1;

    if (generation->rate_windows == NULL) {
        return -1;
    }
    client = ml_siphash13(generation->rate_key, client_text,
                          strlen(client_text)) | 1;
    if (apr_global_mutex_lock(generation->rate_lock) != APR_SUCCESS) {
        return 1;               /* never refuse because of our own fault */
    }
    window = window_for(generation, client, now, period);
    if (window) {
        if (now - window->window_start >= period) {
            window->window_start = now;
            window->created = 0;
        }
        if (window->created >= (apr_uint32_t)limit) {
            allowed = 0;
            *retry_after = window->window_start + period - now;
        }
        else if (count) {
            window->created++;
        }
    }
    apr_global_mutex_unlock(generation->rate_lock);
    return allowed;
}

int ml_ratelimit_allow(request_rec *r, int limit, int period,
                       apr_int64_t *retry_after)
{
    return limit <= 0
           || window_allows(r, r->useragent_ip, limit, period, 1,
                            retry_after) != 0;
}

/* The key of a client's guesses at a link's password. */
static const char *guesser(request_rec *r, const char *slug)
{
    return apr_pstrcat(r->pool, r->useragent_ip, " ", slug, NULL);
}

int ml_ratelimit_may_guess(request_rec *r, const char *slug,
                           apr_int64_t *retry_after)
{
    return window_allows(r, guesser(r, slug), ML_GUESSES, ML_GUESS_PERIOD, 0,
                         retry_after);
}

void ml_ratelimit_count_guess(request_rec *r, const char *slug)
{
    apr_int64_t unused;

    window_allows(r, guesser(r, slug), ML_GUESSES, ML_GUESS_PERIOD, 1,
                  &unused);
}
