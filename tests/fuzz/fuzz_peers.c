/*
 * fuzz_peers.c - the readers of other shorteners' exports, cli/ml_import_peers.h.
 *
 * The input's first byte picks the peer (shlink, yourls, kutt); the rest is
 * the file, read through fmemopen() as CSV or JSON as the reader decides.
 * Whatever it holds, the reader must not crash, must fail with a problem to
 * show and a place in the file or deliver links, never more links than the
 * input has bytes, at places that move forward (a CSV record's line no
 * later than the input's last and never before the one before, a JSON
 * link's number one more each time),
 * each with a slug and a URL, times within what ml_time reads, and counts
 * that are no negative number.  Stopping from the callback is checked too:
 * its status comes back, after as many links as it took.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* fmemopen() */
#endif
#include <string.h>
#include <apr_pools.h>
#include "../../cli/ml_import_peers.h"
#include "../../links/ml_time.h"
#include "fuzz_common.h"

#define STOPPED APR_OS_START_USERERR

typedef struct {
    int json;
    apr_uint64_t last_place;
    apr_uint64_t lines;          /* line ends in the input, plus one */
    size_t links;
    size_t stop_after;           /* STOPPED after this many links; 0: never */
} taken;

static apr_pool_t *root;

static int time_ok(apr_int64_t seconds)
{
    return seconds >= 0 && seconds <= ML_TIME_MAX;
}

static apr_status_t take(void *ctx, const ml_link *link, apr_uint64_t place,
                         const char *note)
{
    taken *t = ctx;

    CHECK(link->slug != NULL && link->url != NULL);
    CHECK(time_ok(link->created_at) && time_ok(link->valid_since)
          && time_ok(link->expires_at));
    CHECK(link->clicks >= 0 && link->max_visits >= 0);
    CHECK(note == NULL || note[0] != '\0');
    if (t->json) {
        CHECK(place == t->last_place + 1);
    }
    else {
        /* Lines are counted by LF: records ended by a lone CR share one. */
        CHECK(place >= 1 && place >= t->last_place && place <= t->lines);
    }
    t->last_place = place;
    t->links++;
    return t->stop_after && t->links == t->stop_after ? STOPPED : APR_SUCCESS;
}

/* Reads the file as peer's; the status, with t filled in. */
static apr_status_t read_as(const ml_peer *peer, const char *text, size_t len,
                            taken *t, apr_pool_t *pool)
{
    apr_pool_t *links;
    const char *problem = NULL;
    apr_uint64_t place = 0;
    apr_status_t rv;
    size_t i;
    FILE *in;

    /* fmemopen() may refuse a size of 0: an empty file is /dev/null. */
    in = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "r");
    CHECK(in != NULL);
    t->lines = 1;
    for (i = 0; i < len; i++) {
        t->lines += text[i] == '\n';
    }
    apr_pool_create(&links, pool);
    t->json = ml_peer_is_json(peer, in);
    rv = ml_peer_read(peer, t->json, in, take, t, links, &problem, &place,
                      pool);
    fclose(in);
    if (rv == APR_SUCCESS || rv == STOPPED) {
        CHECK(problem == NULL);
    }
    else {
        CHECK(problem != NULL && problem[0] != '\0');
        CHECK(place >= 1);
    }
    CHECK(t->links <= len);
    return rv;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const char *const names[] = { "shlink", "yourls", "kutt" };
    const ml_peer *peer;
    taken all = {0}, some = {0};
    apr_pool_t *pool;
    apr_status_t rv;

    if (size == 0) {
        return 0;
    }
    if (root == NULL) {
        apr_pool_create(&root, NULL);
    }
    peer = ml_peer_find(names[data[0] % 3]);
    CHECK(peer != NULL);
    apr_pool_create(&pool, root);
    rv = read_as(peer, (const char *)data + 1, size - 1, &all, pool);
    if (rv == APR_SUCCESS && all.links >= 2) {
        some.stop_after = all.links / 2;
        CHECK(read_as(peer, (const char *)data + 1, size - 1, &some, pool)
              == STOPPED);
        CHECK(some.links == all.links / 2);
    }
    apr_pool_destroy(pool);
    return 0;
}
