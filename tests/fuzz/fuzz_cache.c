/*
 * fuzz_cache.c - the shared-memory slug table of cache/ml_cache.h against a
 * model: a plain array of slug -> link.
 *
 * Input: two bytes of geometry, then operations until the input runs out:
 *
 *   byte 0   bit 0 set: ml_cache_plan(byte 1 % 8 links, byte 2 * 4 bytes,
 *            headroom 0); clear: a table of byte 1 % 17 links (0 must be
 *            refused) and byte 2 * 16 arena bytes, small enough to fill up
 *            (ml_cache_plan() always adds room for 1024 spare links).
 *   op       low 2 bits: 0 and 3 put, 1 remove, 2 lookup; bit 7: the slug
 *            is raw bytes from the input (1 length byte, then the bytes),
 *            otherwise one byte picks one of 256 valid slugs.
 *   put      then url, status, expiry, disabled and click-cell bytes.
 *
 * After every operation the table must agree with the model: what a lookup
 * finds, what remove and put return, usage.links.  APR_ENOSPC leaves both
 * unchanged (ml_cache.h), and is allowed only when the arena has no room
 * for the record or more distinct slugs were ever added than the table has
 * room for (removed slots are not always reused before a rebuild).
 */
#include <string.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include "../../cache/ml_cache.h"
#include "fuzz_common.h"

#define MODEL_MAX 4096
/* A record: 12 bytes of header, then slug, URL and the URL's NUL, padded to
 * 4 bytes (the layout drawn at the top of ml_cache.c). */
#define RECORD_BYTES(slug_len, url_len) (((12 + (slug_len) + (url_len) + 1) + 3) / 4 * 4)

typedef struct {
    char slug[ML_SLUG_MAX + 1];
    apr_size_t slug_len;
    const char *url;
    int status;
    apr_int64_t expires_at;
    int disabled;
    apr_uint32_t cell;
} model_link;

typedef struct {
    const unsigned char *data;
    size_t size, at;
} input;

static model_link model[MODEL_MAX];
static size_t model_count;
static apr_pool_t *root;

static unsigned int take(input *in)
{
    return in->at < in->size ? in->data[in->at++] : 0;
}

/* Up to len bytes from the input (fewer at its end). */
static size_t take_bytes(input *in, char *out, size_t len)
{
    size_t n = in->size - in->at < len ? in->size - in->at : len;

    memcpy(out, in->data + in->at, n);
    in->at += n;
    return n;
}

static const char alphabet[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/* A valid slug, 1 to 8 bytes or 63 or 64: 256 of them, some prefixes of
 * others, so that puts, removes and lookups meet often. */
static size_t pick_slug(unsigned int k, char *out)
{
    size_t len = 1 + (k >> 3) % 8, i;

    k %= 64;
    if (k == 62 || k == 63) {
        len = k + 1;
    }
    for (i = 0; i < len; i++) {
        out[i] = alphabet[(k * 13 + i * 7) % 64];
    }
    out[len] = '\0';
    return len;
}

/* A slug from the op: out gets up to 72 bytes (not always valid). */
static size_t read_slug(input *in, unsigned int op, char *out)
{
    size_t len;

    if (op & 0x80) {
        len = take_bytes(in, out, take(in) % 73);
        out[len] = '\0';
        return len;
    }
    return pick_slug(take(in), out);
}

static const char *read_url(input *in, apr_pool_t *pool)
{
    static const char *const bases[] = {
        "http://example.com/", "https://EXAMPLE.org:8443/a?b=c#d",
        "http://[::1]/", "https://h/p?q", "http://a.b/c#", "HTTPS://x.y?",
        "http://user@example.com/", "ftp://example.com/",
    };
    unsigned int u = take(in);

    if (u < 0xE0) {
        /* A template padded to reach the arena's limits. */
        const char *base = bases[u & 7];
        size_t pad = (u >> 3) * 13;
        char *url = apr_palloc(pool, strlen(base) + pad + 1);
        strcpy(url, base);
        memset(url + strlen(base), 'p', pad);
        url[strlen(base) + pad] = '\0';
        return url;
    }
    else {
        size_t len = take(in) << 8;
        len = (len | take(in)) % 4200;
        char *url = apr_palloc(pool, len + 1);
        len = take_bytes(in, url, len);
        url[len] = '\0';
        return url;
    }
}

static model_link *find(const char *slug, size_t len)
{
    size_t i;

    for (i = 0; i < model_count; i++) {
        if (model[i].slug_len == len && memcmp(model[i].slug, slug, len) == 0) {
            return &model[i];
        }
    }
    return NULL;
}

static int slug_ok(const char *slug, size_t len)
{
    size_t i;

    if (len < 1 || len > ML_SLUG_MAX || strlen(slug) != len) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!strchr(alphabet, slug[i])) {
            return 0;
        }
    }
    return 1;
}

/* What a lookup returns for a stored expiry: 32 bits, later is capped. */
static apr_int64_t stored_expiry(apr_int64_t expires_at)
{
    return expires_at > 0xFFFFFFFFLL ? 0xFFFFFFFFLL : expires_at;
}

static void check_lookup(const ml_cache *cache, const char *slug, size_t len)
{
    model_link *m = find(slug, len);
    ml_cache_entry entry;
    int found = ml_cache_lookup(cache, slug, len, &entry);

    CHECK(found == (m != NULL));
    if (strlen(slug) == len) {
        CHECK(ml_cache_click_cell(cache, slug) == (m ? m->cell : ML_CACHE_NO_CELL));
    }
    if (!m) {
        return;
    }
    CHECK(entry.url_len == strlen(m->url));
    CHECK(memcmp(entry.url, m->url, entry.url_len) == 0);
    CHECK(entry.status == m->status);
    CHECK(entry.expires_at == stored_expiry(m->expires_at));
    CHECK(entry.disabled == m->disabled);
    CHECK(entry.click_cell == m->cell);
    {
        ml_link link = {0};
        link.slug = m->slug;
        link.url = m->url;
        link.status = m->status;
        link.expires_at = m->expires_at;
        link.disabled = m->disabled;
        CHECK(ml_cache_holds(cache, &link));
        link.disabled = !m->disabled;
        CHECK(!ml_cache_holds(cache, &link));
        link.disabled = m->disabled;
        link.url = "http://not-this-one.example/";
        CHECK(strcmp(m->url, link.url) == 0 || !ml_cache_holds(cache, &link));
    }
}

static void check_usage(const ml_cache *cache, const ml_cache_geometry *g)
{
    ml_cache_usage usage;

    ml_cache_usage_get(cache, &usage);
    CHECK(usage.links == model_count);
    CHECK(usage.links <= usage.link_capacity);
    CHECK(usage.link_capacity == g->link_capacity);
    CHECK(usage.arena_bytes == g->arena_bytes);
    CHECK(usage.arena_used <= usage.arena_bytes || usage.arena_used == 8);
}

static void do_put(ml_cache *cache, input *in, const char *slug, size_t slug_len,
                   apr_pool_t *pool, size_t *new_slugs,
                   const ml_cache_geometry *g)
{
    static const int statuses[] = {0, 301, 302, 303, 307, 308, 302, 0, 200, 399};
    ml_link link = {0};
    unsigned int st, ex, dis, cellb;
    apr_uint32_t cell;
    ml_cache_usage before, after;
    model_link *m = find(slug, slug_len);
    int valid, room;
    apr_status_t rv;
    size_t url_len;

    link.slug = slug;
    link.url = read_url(in, pool);
    url_len = strlen(link.url);
    st = take(in);
    ex = take(in);
    dis = take(in);
    cellb = take(in);
    link.status = statuses[st % 10];
    switch (ex % 8) {
    case 3: link.expires_at = (apr_int64_t)ex * 1000; break;
    case 4: link.expires_at = 0xFFFFFFFFLL; break;
    case 5: link.expires_at = 0x100000000LL + ex; break;
    case 6: link.expires_at = APR_INT64_MAX; break;
    case 7: link.expires_at = -(apr_int64_t)ex; break;
    default: link.expires_at = 0;
    }
    link.disabled = dis == 0xFF ? 2 : (int)(dis & 1);
    cell = cellb == 0xFF ? ML_CACHE_NO_CELL : cellb * 7919u;

    valid = slug_ok(slug, slug_len) && ml_url_problem(link.url, url_len) == NULL
         && (link.status == 0 || ml_status_valid(link.status))
         && link.expires_at >= 0 && (link.disabled == 0 || link.disabled == 1);

    ml_cache_usage_get(cache, &before);
    room = before.arena_used + RECORD_BYTES(slug_len, url_len)
           <= before.arena_bytes;
    rv = ml_cache_put(cache, &link, cell);
    ml_cache_usage_get(cache, &after);

    if (!valid) {
        CHECK(rv == APR_EINVAL);
    }
    else if (rv == APR_ENOSPC) {
        /* No room for the record, or for one more slug. */
        CHECK(!room || (m == NULL && *new_slugs >= g->link_capacity));
    }
    else {
        CHECK(rv == APR_SUCCESS);
        CHECK(room);
        CHECK(after.arena_used
              == before.arena_used + RECORD_BYTES(slug_len, url_len));
    }
    if (rv != APR_SUCCESS) {
        /* The table is unchanged, and so is the model. */
        CHECK(after.arena_used == before.arena_used);
        CHECK(after.links == before.links);
        return;
    }
    if (m == NULL) {
        CHECK(model_count < MODEL_MAX);
        m = &model[model_count++];
        memcpy(m->slug, slug, slug_len + 1);
        m->slug_len = slug_len;
        ++*new_slugs;
    }
    m->url = link.url;
    m->status = link.status;
    m->expires_at = link.expires_at;
    m->disabled = link.disabled;
    m->cell = cell;
}

static void do_remove(ml_cache *cache, const char *slug, size_t len)
{
    model_link *m = find(slug, len);
    apr_status_t rv = ml_cache_remove(cache, slug, len);

    if (m == NULL) {
        CHECK(rv == APR_ENOENT);
        return;
    }
    CHECK(rv == APR_SUCCESS);
    *m = model[--model_count];
}

/* ml_cache_each_link() must list the model's slugs, each once. */
static unsigned char seen[MODEL_MAX];

static apr_status_t each_slug(void *ctx, const char *slug, apr_size_t len,
                              const ml_cache_entry *entry)
{
    model_link *m = find(slug, len);

    (void)ctx;
    CHECK(entry->url != NULL);
    CHECK(m != NULL);
    CHECK(!seen[m - model]);
    seen[m - model] = 1;
    return APR_SUCCESS;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    input in = {data, size, 0};
    ml_cache_geometry geometry;
    ml_cache *cache;
    apr_pool_t *pool;
    apr_status_t rv;
    unsigned int mode, a, b;
    size_t new_slugs = 0, i;

    if (root == NULL) {
        apr_pool_create(&root, NULL);
    }
    model_count = 0;
    mode = take(&in);
    a = take(&in);
    b = take(&in);
    if (mode & 1) {
        geometry = ml_cache_plan(a % 8, b * 4, 0);
    }
    else {
        geometry.link_capacity = a % 17;
        geometry.arena_bytes = b * 16;
    }
    apr_pool_create(&pool, root);
    rv = ml_cache_create(&cache, &geometry, pool);
    if (geometry.link_capacity == 0) {
        CHECK(rv == APR_EINVAL && cache == NULL);
        apr_pool_destroy(pool);
        return 0;
    }
    CHECK(rv == APR_SUCCESS);
    CHECK(!ml_cache_overflowed(cache));
    check_usage(cache, &geometry);

    while (in.at < in.size) {
        unsigned int op = take(&in);
        char slug[80];
        size_t len = read_slug(&in, op, slug);

        switch (op & 3) {
        case 0:
        case 3:
            /* The link's slug is a C string: it ends at a NUL. */
            do_put(cache, &in, slug, strlen(slug), pool, &new_slugs, &geometry);
            break;
        case 1:
            do_remove(cache, slug, len);
            break;
        default:
            check_lookup(cache, slug, len);
        }
        check_usage(cache, &geometry);
    }

    /* Everything the model holds is there, and nothing else. */
    for (i = 0; i < model_count; i++) {
        check_lookup(cache, model[i].slug, model[i].slug_len);
    }
    memset(seen, 0, model_count);
    CHECK(ml_cache_each_link(cache, each_slug, NULL) == APR_SUCCESS);
    for (i = 0; i < model_count; i++) {
        CHECK(seen[i]);
    }
    apr_pool_destroy(pool);
    return 0;
}
