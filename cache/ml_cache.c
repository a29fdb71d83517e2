/*
 * ml_cache.c - the slug table in one shared-memory segment.
 *
 * Layout (every position is an offset from the segment's base, never a
 * pointer: each process may map the segment at its own address):
 *
 *   0            +------------------------------------------+
 *                | ml_cache_header (128 bytes)              |  geometry, hash key,
 *                |                                          |  counters, state
 *   slots_at     +------------------------------------------+
 *                | slots[slot_count]: uint32 each           |  open addressing,
 *                |   0 = empty, 1 = removed, else           |  linear probing
 *                |   tag | ref: the low bits (ref_mask) are |
 *                |   ref >= 2, the record at arena + 4*ref; |
 *                |   the bits above are the slug's hash tag |
 *   arena_at     +------------------------------------------+  (64-byte aligned)
 *                | 8 reserved bytes (so no record is 0 or 1)|
 *                | record | record | record | ...           |  appended only,
 *                |                                          |  4-byte aligned
 *   size         +------------------------------------------+
 *
 *   record:  expires_at u32 | url_len u16 | slug_len u8 |
 *            flags u8 (bits 0-2 status index, bit 3 disabled) |
 *            click cell u32 (ml_clicks.h) |
 *            slug bytes | URL bytes | NUL      (12 bytes + text + 1, padded to 4)
 *
 *   The NUL lets a redirect use the URL in place as its Location (no copy);
 *   in the padding that rounds a record up to 4 bytes it costs nothing
 *   three times out of four.
 *
 * Concurrency: one writer at a time (the caller ensures it), any number of
 * readers without locks.  A record is written completely before the slot
 * that points to it is stored with release ordering, readers load slots with
 * acquire ordering, and a published record is never changed or reused while
 * the segment lives.  So a reader sees the old link or the new one, never a
 * mixture.  Replacing a link appends a new record and swaps the slot; the
 * old record's bytes are reclaimed when the table is rebuilt (graceful).
 *
 * Slots are found with SipHash-1-3 under a random per-segment key, so slugs
 * crafted to collide cannot be chosen from outside.  The table never holds
 * more than 3/4 of its slots in use (live or removed), so every probe
 * sequence meets an empty slot.
 *
 * The hash tag: a ref needs only as many bits as the arena has 4-byte units
 * (25 for 1M links); the bits left over in the slot hold that many bits of
 * the slug's hash, so a probe passes slots of other slugs without reading
 * their records - a cache miss each, which was a quarter of the time it
 * took to load 1M links.  (The tag used to sit in the record, where reading
 * it cost the same miss as reading the slug.)  An arena of 16 GiB leaves no
 * tag bits; probes then read every record they pass, and still work.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <apr_general.h>
#include <apr_shm.h>
#include "ml_cache.h"
#include "../util/ml_siphash.h"
#include "../util/ml_prefault.h"

#define ML_CACHE_MAGIC 0x4d4c4e4bu        /* "MLNK" */
#define ML_CACHE_LAYOUT 3
#define SLOT_EMPTY 0u
#define SLOT_REMOVED 1u
#define ARENA_RESERVED 8u                  /* refs 0 and 1 are the markers above */
#define RECORD_ALIGN 4u
#define SEGMENT_ALIGN 64u
#define HEADER_BYTES 128u
/* A record's header, the URL's NUL and the worst-case padding, for sizing
 * the arena. */
#define RECORD_OVERHEAD (sizeof(ml_record) + 1 + RECORD_ALIGN - 1)
/* The record size assumed for spare room when the database is empty. */
#define EMPTY_DB_RECORD_BYTES 96u

#define ALIGN_UP(n, a) (((n) + (a) - 1) / (a) * (a))
/* How many records ml_cache_index() hashes ahead of the one it inserts:
 * enough to cover a memory access with a SipHash each. */
#define INDEX_AHEAD 8

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t layout;
    unsigned char hash_key[ML_SIPHASH_KEY_BYTES];
    apr_uint32_t slot_count;
    apr_uint32_t link_capacity;        /* most slots in use, live or removed */
    apr_uint32_t ref_mask;             /* the bits of a slot that are the ref */
    apr_uint64_t arena_bytes;
    /* Changed by the writer only; atomics so readers' statistics are whole. */
    _Atomic apr_uint64_t arena_used;
    _Atomic apr_uint32_t links;
    _Atomic apr_uint32_t slots_used;
    _Atomic apr_uint32_t overflowed;   /* a link did not fit since the build */
    _Atomic apr_uint32_t failing[ML_CACHE_ACTIVITIES]; /* its last try failed */
    _Atomic apr_uint64_t changes_seen; /* database change number reflected */
    _Atomic apr_int64_t last_refresh_at;
    _Atomic apr_uint64_t refresh_errors;
} ml_cache_header;

typedef struct {
    apr_uint32_t expires_at;           /* Unix seconds, 0 = never (to 2106) */
    apr_uint16_t url_len;
    uint8_t slug_len;
    uint8_t flags;
    apr_uint32_t click_cell;           /* kept when the link is replaced */
} ml_record;

#define FLAG_STATUS_MASK 0x07u
#define FLAG_DISABLED 0x08u

/* Index 0 means "the location's default"; the flags keep the index. */
static const int statuses[] = {0, 301, 302, 303, 307, 308};

/* The process-local view of a segment (lives in the creating pool; a forked
 * child inherits it together with the mapping). */
struct ml_cache {
    ml_cache_header *header;
    _Atomic apr_uint32_t *slots;
    char *arena;
    apr_size_t segment_bytes;
    apr_uint64_t unindexed_from;       /* the writer's: see ml_cache_index() */
};

typedef char header_fits[sizeof(ml_cache_header) <= HEADER_BYTES ? 1 : -1];
typedef char record_is_packed[sizeof(ml_record) == 12 ? 1 : -1];

ml_cache_geometry ml_cache_plan(apr_uint32_t links, apr_uint64_t text_bytes,
                                unsigned int headroom_percent)
{
    ml_cache_geometry geometry;
    apr_uint64_t spare = (apr_uint64_t)links * headroom_percent / 100;
    apr_uint64_t record_bytes = text_bytes + (apr_uint64_t)links * RECORD_OVERHEAD;
    apr_uint64_t average = links ? record_bytes / links + 1 : EMPTY_DB_RECORD_BYTES;
    apr_uint64_t capacity;

    if (spare < ML_CACHE_MIN_SPARE_LINKS) {
        spare = ML_CACHE_MIN_SPARE_LINKS;
    }
    /* Slot refs address the arena in 4-byte units through a uint32, and
     * slot_count must fit a uint32 too: both cap far above any real use. */
    capacity = (apr_uint64_t)links + spare;
    if (capacity > 0xC0000000u) {
        capacity = 0xC0000000u;
    }
    geometry.link_capacity = (apr_uint32_t)capacity;
    geometry.arena_bytes = ARENA_RESERVED + record_bytes + spare * average;
    return geometry;
}

static apr_uint32_t slot_count_for(apr_uint32_t link_capacity)
{
    /* link_capacity is 3/4 of the slots: the load factor that keeps linear
     * probes short (about 2.5 slots for a hit at the worst). */
    return (apr_uint32_t)(((apr_uint64_t)link_capacity * 4 + 2) / 3) + 1;
}

static apr_size_t slots_at(void)
{
    return HEADER_BYTES;
}

static apr_size_t arena_at(apr_uint32_t slot_count)
{
    return slots_at() + ALIGN_UP((apr_size_t)slot_count * sizeof(apr_uint32_t),
                                 SEGMENT_ALIGN);
}

apr_size_t ml_cache_segment_size(const ml_cache_geometry *geometry)
{
    return arena_at(slot_count_for(geometry->link_capacity))
           + (apr_size_t)geometry->arena_bytes;
}

/* The slot bits a ref needs to address every 4-byte unit of the arena. */
static apr_uint32_t ref_mask_for(apr_uint64_t arena_bytes)
{
    apr_uint64_t mask = 1;

    while (mask < arena_bytes / RECORD_ALIGN) {
        mask = mask << 1 | 1;
    }
    return (apr_uint32_t)mask;
}

apr_status_t ml_cache_create(ml_cache **cache, const ml_cache_geometry *geometry,
                             apr_pool_t *pool)
{
    apr_uint32_t slot_count = slot_count_for(geometry->link_capacity);
    apr_size_t size = ml_cache_segment_size(geometry);
    apr_uint64_t max_arena = (apr_uint64_t)0xFFFFFFFFu * RECORD_ALIGN;
    ml_cache *made;
    apr_shm_t *shm;
    char *base;
    apr_status_t rv;

    *cache = NULL;
    if (geometry->arena_bytes > max_arena || geometry->link_capacity == 0) {
        return APR_EINVAL;
    }
    /* Anonymous: inherited by the children forked later, gone with the last
     * process that maps it.  The extra line lets us align the base. */
    rv = apr_shm_create(&shm, size + SEGMENT_ALIGN, NULL, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    base = apr_shm_baseaddr_get(shm);
    base += (SEGMENT_ALIGN - (apr_uintptr_t)base % SEGMENT_ALIGN) % SEGMENT_ALIGN;
    /* Anonymous mappings start zeroed: every slot is already SLOT_EMPTY. */
    made = apr_pcalloc(pool, sizeof(*made));
    made->header = (ml_cache_header *)base;
    made->slots = (_Atomic apr_uint32_t *)(base + slots_at());
    made->arena = base + arena_at(slot_count);
    made->segment_bytes = size;
    made->unindexed_from = ARENA_RESERVED;

    made->header->magic = ML_CACHE_MAGIC;
    made->header->layout = ML_CACHE_LAYOUT;
    made->header->slot_count = slot_count;
    made->header->link_capacity = geometry->link_capacity;
    made->header->arena_bytes = geometry->arena_bytes;
    made->header->ref_mask = ref_mask_for(geometry->arena_bytes);
    atomic_init(&made->header->arena_used, ARENA_RESERVED);
    atomic_init(&made->header->links, 0);
    atomic_init(&made->header->slots_used, 0);
    atomic_init(&made->header->overflowed, 0);
    atomic_init(&made->header->failing[ML_CACHE_REFRESH], 0);
    atomic_init(&made->header->failing[ML_CACHE_CREATE], 0);
    atomic_init(&made->header->changes_seen, 0);
    rv = apr_generate_random_bytes(made->header->hash_key,
                                   sizeof(made->header->hash_key));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *cache = made;
    return APR_SUCCESS;
}

static const ml_record *record_at(const ml_cache *cache, apr_uint32_t ref)
{
    return (const ml_record *)(cache->arena + (apr_size_t)ref * RECORD_ALIGN);
}

static const char *record_text(const ml_record *record)
{
    return (const char *)(record + 1);
}

/* Where a slug's probe starts, and the tag its slot carries (already in
 * the bits above ref_mask). */
typedef struct {
    apr_uint32_t start;
    apr_uint32_t tag;
} probe_origin;

static probe_origin origin_of(const ml_cache *cache, const char *slug,
                              apr_size_t len)
{
    apr_uint64_t hash = ml_siphash13(cache->header->hash_key, slug, len);
    probe_origin origin;

    /* Multiply-shift maps the low half onto [0, slot_count) without the
     * division a modulo costs, for any slot_count. */
    origin.start = (apr_uint32_t)(((hash & 0xFFFFFFFFu)
                                   * cache->header->slot_count) >> 32);
    origin.tag = (apr_uint32_t)(hash >> 32) & ~cache->header->ref_mask;
    return origin;
}

static int record_matches(const ml_record *record, const char *slug,
                          apr_size_t len)
{
    return (apr_size_t)record->slug_len == len
           && memcmp(record_text(record), slug, len) == 0;
}

/*
 * Walks the slug's probe sequence.  Returns the slot holding the slug, or
 * -1 if absent; *found gets the record seen there (complete and immutable,
 * whatever happens to the slot afterwards), and *free_slot the first
 * removed-or-empty slot seen (where an insert goes), or -1.
 *
 * Always inlined (GCC and Clang): a lookup then pays no call, and the
 * compiler drops the free-slot bookkeeping it never reads - 309 -> 263
 * instructions per lookup (callgrind, 1M links), against issue 5's 300.
 */
static inline __attribute__((always_inline)) long find_slot(const ml_cache *cache, probe_origin origin,
                      const char *slug, apr_size_t len,
                      const ml_record **found, long *free_slot)
{
    apr_uint32_t slot_count = cache->header->slot_count;
    apr_uint32_t ref_mask = cache->header->ref_mask;
    apr_uint32_t i = origin.start, probes;

    *free_slot = -1;
    for (probes = 0; probes < slot_count; probes++) {
        apr_uint32_t slot = atomic_load_explicit(&cache->slots[i],
                                                 memory_order_acquire);
        if (slot == SLOT_EMPTY) {
            if (*free_slot < 0) {
                *free_slot = i;
            }
            return -1;
        }
        if (slot == SLOT_REMOVED) {
            if (*free_slot < 0) {
                *free_slot = i;
            }
        }
        else if ((slot & ~ref_mask) == origin.tag
                 && record_matches(record_at(cache, slot & ref_mask), slug,
                                   len)) {
            *found = record_at(cache, slot & ref_mask);
            return i;
        }
        if (++i == slot_count) {
            i = 0;
        }
    }
    return -1;
}

int ml_cache_lookup(const ml_cache *cache, const char *slug, apr_size_t len,
                    ml_cache_entry *entry)
{
    const ml_record *record;
    long unused;

    if (find_slot(cache, origin_of(cache, slug, len), slug, len, &record,
                  &unused) < 0) {
        return 0;
    }
    entry->url = record_text(record) + record->slug_len;
    entry->url_len = record->url_len;
    entry->status = statuses[record->flags & FLAG_STATUS_MASK];
    entry->expires_at = record->expires_at;
    entry->disabled = (record->flags & FLAG_DISABLED) != 0;
    entry->click_cell = record->click_cell;
    return 1;
}

apr_uint32_t ml_cache_click_cell(const ml_cache *cache, const char *slug)
{
    const ml_record *record;
    long unused;

    apr_size_t len = strlen(slug);

    return find_slot(cache, origin_of(cache, slug, len), slug, len, &record,
                     &unused) >= 0
           ? record->click_cell : ML_CACHE_NO_CELL;
}

static uint8_t status_index(int status)
{
    uint8_t i;

    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (statuses[i] == status) {
            return i;
        }
    }
    return 0;
}

/* Expiry times are kept in 32 bits: later than 2106 means never mind. */
static apr_uint32_t stored_expiry(apr_int64_t expires_at)
{
    return expires_at > 0xFFFFFFFF ? 0xFFFFFFFFu : (apr_uint32_t)expires_at;
}

static uint8_t record_flags(const ml_link *link)
{
    return status_index(link->status) | (link->disabled ? FLAG_DISABLED : 0);
}

/* Appends a record for the link; returns its ref, or 0 if the arena is full. */
static apr_uint32_t append_record(ml_cache *cache, const ml_link *link,
                                  apr_uint32_t click_cell)
{
    apr_size_t slug_len = strlen(link->slug), url_len = strlen(link->url);
    apr_size_t size = ALIGN_UP(sizeof(ml_record) + slug_len + url_len + 1,
                               RECORD_ALIGN);
    apr_uint64_t at = atomic_load_explicit(&cache->header->arena_used,
                                           memory_order_relaxed);
    ml_record *record;
    char *text;

    if (at + size > cache->header->arena_bytes) {
        return 0;
    }
    record = (ml_record *)(cache->arena + at);
    record->expires_at = stored_expiry(link->expires_at);
    record->url_len = (apr_uint16_t)url_len;
    record->slug_len = (uint8_t)slug_len;
    record->flags = record_flags(link);
    record->click_cell = click_cell;
    text = (char *)(record + 1);
    memcpy(text, link->slug, slug_len);
    memcpy(text + slug_len, link->url, url_len);
    text[slug_len + url_len] = '\0';
    atomic_store_explicit(&cache->header->arena_used, at + size,
                          memory_order_relaxed);
    return (apr_uint32_t)(at / RECORD_ALIGN);
}

/*
 * Where the slug's record goes: the slot holding the slug, or the free one
 * its probe met first (*is_new then set).  APR_ENOSPC when the table has no
 * room for another slug.
 */
static apr_status_t slot_for(const ml_cache *cache, probe_origin origin,
                             const char *slug, apr_size_t len, long *slot,
                             int *is_new)
{
    const ml_record *existing;
    long free_slot;

    *slot = find_slot(cache, origin, slug, len, &existing, &free_slot);
    *is_new = *slot < 0;
    if (*slot >= 0) {
        return APR_SUCCESS;
    }
    if (free_slot < 0
        || (atomic_load_explicit(&cache->slots[free_slot], memory_order_relaxed)
            == SLOT_EMPTY
            && atomic_load_explicit(&cache->header->slots_used,
                                    memory_order_relaxed)
               >= cache->header->link_capacity)) {
        return APR_ENOSPC;
    }
    *slot = free_slot;
    return APR_SUCCESS;
}

/* Points a slot from slot_for() at the record ref, and counts a new slug. */
static void set_slot(ml_cache *cache, long slot, int is_new,
                     probe_origin origin, apr_uint32_t ref)
{
    apr_uint32_t old = atomic_load_explicit(&cache->slots[slot],
                                            memory_order_relaxed);

    /* The release store publishes the complete record to every reader. */
    atomic_store_explicit(&cache->slots[slot], origin.tag | ref,
                          memory_order_release);
    if (is_new) {
        atomic_fetch_add_explicit(&cache->header->links, 1,
                                  memory_order_relaxed);
        if (old == SLOT_EMPTY) {
            atomic_fetch_add_explicit(&cache->header->slots_used, 1,
                                      memory_order_relaxed);
        }
    }
}

apr_status_t ml_cache_put(ml_cache *cache, const ml_link *link,
                          apr_uint32_t click_cell)
{
    probe_origin origin;
    apr_size_t slug_len;
    apr_uint32_t ref;
    apr_status_t rv;
    long slot;
    int is_new;

    if (ml_link_problem(link) != NULL) {
        return APR_EINVAL;
    }
    slug_len = strlen(link->slug);
    /* Hashed once, for the probe and for the tag in the new slot. */
    origin = origin_of(cache, link->slug, slug_len);
    /* A slot first, so a full table wastes no arena on a record. */
    if ((rv = slot_for(cache, origin, link->slug, slug_len, &slot, &is_new))) {
        return rv;
    }
    ref = append_record(cache, link, click_cell);
    if (ref == 0) {
        return APR_ENOSPC;
    }
    set_slot(cache, slot, is_new, origin, ref);
    return APR_SUCCESS;
}

apr_status_t ml_cache_append(ml_cache *cache, const ml_link *link,
                             apr_uint32_t click_cell)
{
    if (ml_link_problem(link) != NULL) {
        return APR_EINVAL;
    }
    return append_record(cache, link, click_cell) ? APR_SUCCESS : APR_ENOSPC;
}

static apr_size_t record_size(const ml_record *record)
{
    return ALIGN_UP(sizeof(*record) + record->slug_len + record->url_len + 1,
                    RECORD_ALIGN);
}

apr_status_t ml_cache_index(ml_cache *cache)
{
    probe_origin ahead[INDEX_AHEAD];     /* those of the records at .. next */
    apr_uint64_t end = atomic_load_explicit(&cache->header->arena_used,
                                            memory_order_relaxed);
    apr_uint64_t at = cache->unindexed_from, next = at;
    unsigned int hashed = 0, indexed = 0;
    apr_status_t rv = APR_SUCCESS;

    while (at < end) {
        const ml_record *record;
        long slot;
        int is_new;

        /* Hash the records ahead and ask for their slots' cache lines, so
         * the line is there when its record's turn comes. */
        for (; next < end && hashed - indexed < INDEX_AHEAD; hashed++) {
            record = (const ml_record *)(cache->arena + next);
            ahead[hashed % INDEX_AHEAD] = origin_of(cache, record_text(record),
                                                    record->slug_len);
            __builtin_prefetch(&cache->slots[ahead[hashed % INDEX_AHEAD].start]);
            next += record_size(record);
        }
        record = (const ml_record *)(cache->arena + at);
        rv = slot_for(cache, ahead[indexed % INDEX_AHEAD], record_text(record),
                      record->slug_len, &slot, &is_new);
        if (rv != APR_SUCCESS) {
            break;
        }
        set_slot(cache, slot, is_new, ahead[indexed++ % INDEX_AHEAD],
                 (apr_uint32_t)(at / RECORD_ALIGN));
        at += record_size(record);
    }
    cache->unindexed_from = at;
    return rv;
}

apr_status_t ml_cache_remove(ml_cache *cache, const char *slug, apr_size_t len)
{
    const ml_record *existing;
    long free_slot, slot = find_slot(cache, origin_of(cache, slug, len), slug,
                                     len, &existing, &free_slot);

    if (slot < 0) {
        return APR_ENOENT;
    }
    /* A removed marker, not an empty slot: probes for other slugs that
     * passed through this slot must keep going past it. */
    atomic_store_explicit(&cache->slots[slot], SLOT_REMOVED,
                          memory_order_release);
    atomic_fetch_sub_explicit(&cache->header->links, 1, memory_order_relaxed);
    return APR_SUCCESS;
}

void ml_cache_prefault(const ml_cache *cache)
{
    /* The header, the slots and the records written so far: not the
     * arena's free end, whose pages nobody has written. */
    ml_prefault(cache->header,
                (apr_size_t)(cache->arena - (char *)cache->header)
                + atomic_load_explicit(&cache->header->arena_used,
                                       memory_order_acquire));
}

void ml_cache_usage_get(const ml_cache *cache, ml_cache_usage *usage)
{
    usage->links = atomic_load_explicit(&cache->header->links,
                                        memory_order_relaxed);
    usage->link_capacity = cache->header->link_capacity;
    usage->arena_used = atomic_load_explicit(&cache->header->arena_used,
                                             memory_order_relaxed);
    usage->arena_bytes = cache->header->arena_bytes;
    usage->segment_bytes = cache->segment_bytes;
    usage->last_refresh_at = atomic_load_explicit(&cache->header->last_refresh_at,
                                                  memory_order_relaxed);
    usage->refresh_errors = atomic_load_explicit(&cache->header->refresh_errors,
                                                 memory_order_relaxed);
}

void ml_cache_note_refresh(ml_cache *cache, int succeeded, apr_int64_t now)
{
    if (succeeded) {
        atomic_store_explicit(&cache->header->last_refresh_at, now,
                              memory_order_relaxed);
    }
    else {
        atomic_fetch_add_explicit(&cache->header->refresh_errors, 1,
                                  memory_order_relaxed);
    }
}

int ml_cache_holds(const ml_cache *cache, const ml_link *link)
{
    apr_size_t slug_len = strlen(link->slug), url_len = strlen(link->url);
    const ml_record *record;
    long unused;

    return find_slot(cache, origin_of(cache, link->slug, slug_len), link->slug,
                     slug_len, &record, &unused) >= 0
           && record->url_len == url_len
           && memcmp(record_text(record) + slug_len, link->url, url_len) == 0
           && record->expires_at == stored_expiry(link->expires_at)
           && record->flags == record_flags(link);
}

apr_status_t ml_cache_each_slug(const ml_cache *cache, ml_cache_slug_fn *fn,
                                void *ctx)
{
    apr_uint32_t i;
    apr_status_t rv;

    for (i = 0; i < cache->header->slot_count; i++) {
        apr_uint32_t slot = atomic_load_explicit(&cache->slots[i],
                                                 memory_order_acquire);
        if (slot != SLOT_EMPTY && slot != SLOT_REMOVED) {
            const ml_record *record = record_at(cache,
                                                slot & cache->header->ref_mask);
            if ((rv = fn(ctx, record_text(record), record->slug_len))) {
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}

apr_uint64_t ml_cache_changes_seen(const ml_cache *cache)
{
    return atomic_load_explicit(&cache->header->changes_seen,
                                memory_order_acquire);
}

void ml_cache_set_changes_seen(ml_cache *cache, apr_uint64_t seq)
{
    atomic_store_explicit(&cache->header->changes_seen, seq,
                          memory_order_release);
}

int ml_cache_overflowed(const ml_cache *cache)
{
    return atomic_load_explicit(&cache->header->overflowed,
                                memory_order_acquire) != 0;
}

void ml_cache_set_overflowed(ml_cache *cache)
{
    atomic_store_explicit(&cache->header->overflowed, 1, memory_order_release);
}

int ml_cache_failing(const ml_cache *cache, ml_cache_activity activity)
{
    return (int)atomic_load_explicit(&cache->header->failing[activity],
                                     memory_order_acquire);
}

int ml_cache_swap_failing(ml_cache *cache, ml_cache_activity activity,
                          int failing)
{
    return (int)atomic_exchange_explicit(&cache->header->failing[activity],
                                         (apr_uint32_t)failing,
                                         memory_order_acq_rel);
}
