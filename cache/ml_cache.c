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
 *   record (every link):
 *
 *     +0  expires_at u32 | +4 url_len u16 | +6 slug_len u8 |
 *     +7  flags u8: bits 0-2 status index, bit 3 disabled,
 *                   bit 4 EXTENDED (an extension follows) |
 *     +8  click cell u32 (ml_clicks.h) |
 *     +12 slug bytes | URL bytes | NUL | padding to 4
 *                                          (a plain link ends here)
 *   extension (bit 4 only: a link with any rule of schema 2):
 *
 *     +0  bytes u32 (the extension's, before padding) |
 *     +4  what u16 (the EXT_* bits below: which fields follow, and the
 *         crawlable flag and forwarding choices themselves) | +6 0 u16 |
 *     +8  then, each only if its bit is set, in this order:
 *         valid_since u32 | max_visits u32 |
 *         fallback: len u16, URL, NUL | password: bcrypt hash (60), NUL |
 *         title: len u16, text, NUL | tags: bytes u16, "tag" NUL ... |
 *         redirect rules, compiled (ml_rules.h: read in place, any
 *         alignment) | padding to 4
 *
 *   The NUL lets a redirect use the URL in place as its Location (no copy);
 *   in the padding that rounds a record up to 4 bytes it costs nothing
 *   three times out of four.  A link without rules is exactly the record
 *   of layout 3 (12 bytes + slug + URL + NUL): a plain link costs no
 *   memory for the rules, and its redirect one test of bit 4.
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
 * sequence meets an empty slot.  In a table made any_case (some location
 * says MinilinkSlugCase insensitive), the hash is of the slug in lower
 * case: slugs that differ only in case share a probe sequence, an exact
 * lookup compares the bytes as they are, and ml_cache_lookup_any_case()
 * compares them without regard to case.
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
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_shm.h>
#include "ml_cache.h"
#include "../util/ml_siphash.h"
#include "../util/ml_prefault.h"

#define ML_CACHE_MAGIC 0x4d4c4e4bu        /* "MLNK" */
#define ML_CACHE_LAYOUT 4
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
    apr_uint32_t any_case;             /* slugs hashed in lower case */
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
#define FLAG_EXTENDED 0x10u

/* What an extension holds (its "what" bits). */
enum {
    EXT_VALID_SINCE = 1 << 0, EXT_MAX_VISITS = 1 << 1, EXT_FALLBACK = 1 << 2,
    EXT_PASSWORD = 1 << 3, EXT_TITLE = 1 << 4, EXT_TAGS = 1 << 5,
    EXT_RULES = 1 << 6, EXT_CRAWLABLE = 1 << 7, EXT_QUERY_ON = 1 << 8,
    EXT_QUERY_OFF = 1 << 9, EXT_PATH_ON = 1 << 10, EXT_PATH_OFF = 1 << 11
};
#define EXT_HEADER 8u
#define PASSWORD_HASH_LEN 60u

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
    geometry.any_case = 0;
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
    made->header->any_case = geometry->any_case != 0;
    atomic_init(&made->header->arena_used, ARENA_RESERVED);
    atomic_init(&made->header->links, 0);
    atomic_init(&made->header->slots_used, 0);
    atomic_init(&made->header->overflowed, 0);
    atomic_init(&made->header->failing[ML_CACHE_REFRESH], 0);
    atomic_init(&made->header->failing[ML_CACHE_CREATE], 0);
    atomic_init(&made->header->failing[ML_CACHE_FIT], 0);
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

/* A-Z as a-z; the slug alphabet has no other letters. */
static char lower_case(char c)
{
    return (char)(c + (((unsigned char)(c - 'A') < 26u) << 5));
}

/* The hash of the slug lower-cased (a valid slug fits the buffer; a
 * longer one is hashed as it is, and found nowhere).  Out of line: only
 * any_case tables need it, and origin_of() stays small inlined into
 * every lookup. */
static __attribute__((noinline)) apr_uint64_t folded_hash(const ml_cache *cache,
                                                         const char *slug,
                                                         apr_size_t len)
{
    char folded[ML_SLUG_MAX];
    apr_size_t i;

    if (len > sizeof(folded)) {
        return ml_siphash13(cache->header->hash_key, slug, len);
    }
    for (i = 0; i < len; i++) {
        folded[i] = lower_case(slug[i]);
    }
    return ml_siphash13(cache->header->hash_key, folded, len);
}

static inline __attribute__((always_inline)) probe_origin
origin_of(const ml_cache *cache, const char *slug, apr_size_t len)
{
    apr_uint64_t hash = cache->header->any_case
                        ? folded_hash(cache, slug, len)
                        : ml_siphash13(cache->header->hash_key, slug, len);
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

/* Where a record's text ends and its extension, if any, starts. */
static apr_size_t text_end(apr_size_t slug_len, apr_size_t url_len)
{
    return ALIGN_UP(sizeof(ml_record) + slug_len + url_len + 1, RECORD_ALIGN);
}

static void fill_entry(const ml_record *record, ml_cache_entry *entry)
{
    entry->url = record_text(record) + record->slug_len;
    entry->url_len = record->url_len;
    entry->status = statuses[record->flags & FLAG_STATUS_MASK];
    entry->expires_at = record->expires_at;
    entry->disabled = (record->flags & FLAG_DISABLED) != 0;
    entry->click_cell = record->click_cell;
    entry->extension = record->flags & FLAG_EXTENDED
                       ? (const char *)record + text_end(record->slug_len,
                                                         record->url_len)
                       : NULL;
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
    fill_entry(record, entry);
    return 1;
}

/* Whether the record's slug is slug[0..len) without regard to case. */
static int record_matches_any_case(const ml_record *record, const char *slug,
                                   apr_size_t len)
{
    const char *text = record_text(record);
    apr_size_t i;

    if ((apr_size_t)record->slug_len != len) {
        return 0;
    }
    for (i = 0; i < len && lower_case(text[i]) == lower_case(slug[i]); i++) {
    }
    return i == len;
}

int ml_cache_lookup_any_case(const ml_cache *cache, const char *slug,
                             apr_size_t len, ml_cache_entry *entry)
{
    probe_origin origin = origin_of(cache, slug, len);
    apr_uint32_t slot_count = cache->header->slot_count;
    apr_uint32_t ref_mask = cache->header->ref_mask;
    apr_uint32_t i = origin.start, probes;
    const ml_record *other = NULL;

    if (!cache->header->any_case) {
        return ml_cache_lookup(cache, slug, len, entry);
    }
    /* The whole probe sequence, as an exact match may come after a slug
     * that differs only in case (they all share it). */
    for (probes = 0; probes < slot_count; probes++) {
        apr_uint32_t slot = atomic_load_explicit(&cache->slots[i],
                                                 memory_order_acquire);
        if (slot == SLOT_EMPTY) {
            break;
        }
        if (slot != SLOT_REMOVED && (slot & ~ref_mask) == origin.tag) {
            const ml_record *record = record_at(cache, slot & ref_mask);
            if (record_matches(record, slug, len)) {
                fill_entry(record, entry);
                return 1;
            }
            if (other == NULL && record_matches_any_case(record, slug, len)) {
                other = record;
            }
        }
        if (++i == slot_count) {
            i = 0;
        }
    }
    if (other) {
        fill_entry(other, entry);
    }
    return other != NULL;
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

/* The bytes of the link's extension (0: none: a plain link). */
static apr_size_t extension_size(const ml_link *link)
{
    apr_size_t size = EXT_HEADER;
    int i;

    if (!ml_link_has_rules(link)) {
        return 0;
    }
    size += (link->valid_since ? 4 : 0) + (link->max_visits ? 4 : 0);
    size += link->fallback_url ? 2 + strlen(link->fallback_url) + 1 : 0;
    size += link->password_hash ? PASSWORD_HASH_LEN + 1 : 0;
    size += link->title ? 2 + strlen(link->title) + 1 : 0;
    if (link->tags && link->tags->nelts) {
        size += 2;
        for (i = 0; i < link->tags->nelts; i++) {
            size += strlen(APR_ARRAY_IDX(link->tags, i, const char *)) + 1;
        }
    }
    return size + (link->nrules ? ml_rules_compiled_size(link->rules,
                                                         link->nrules) : 0);
}

static unsigned char *put_bytes(unsigned char *at, const void *bytes,
                                apr_size_t len)
{
    memcpy(at, bytes, len);
    return at + len;
}

/* A text with its length before it (u16) and a NUL after it. */
static unsigned char *put_counted(unsigned char *at, const char *text)
{
    apr_uint16_t len = (apr_uint16_t)strlen(text);

    at = put_bytes(at, &len, 2);
    at = put_bytes(at, text, len);
    *at++ = '\0';
    return at;
}

static void write_extension(const ml_link *link, unsigned char *out,
                            apr_uint32_t size)
{
    apr_uint16_t what = 0, unused = 0;
    unsigned char *at = out + EXT_HEADER;
    int i;

    if (link->valid_since) {
        apr_uint32_t since = stored_expiry(link->valid_since);
        what |= EXT_VALID_SINCE;
        at = put_bytes(at, &since, 4);
    }
    if (link->max_visits) {
        apr_uint32_t max = (apr_uint32_t)link->max_visits;
        what |= EXT_MAX_VISITS;
        at = put_bytes(at, &max, 4);
    }
    if (link->fallback_url) {
        what |= EXT_FALLBACK;
        at = put_counted(at, link->fallback_url);
    }
    if (link->password_hash) {
        what |= EXT_PASSWORD;
        at = put_bytes(at, link->password_hash, PASSWORD_HASH_LEN + 1);
    }
    if (link->title) {
        what |= EXT_TITLE;
        at = put_counted(at, link->title);
    }
    if (link->tags && link->tags->nelts) {
        unsigned char *bytes = at;
        apr_uint16_t len;
        what |= EXT_TAGS;
        at += 2;
        for (i = 0; i < link->tags->nelts; i++) {
            const char *tag = APR_ARRAY_IDX(link->tags, i, const char *);
            at = put_bytes(at, tag, strlen(tag) + 1);
        }
        len = (apr_uint16_t)(at - bytes - 2);
        memcpy(bytes, &len, 2);
    }
    if (link->nrules) {
        what |= EXT_RULES;
        ml_rules_compile(link->rules, link->nrules, at);
    }
    what |= (link->crawlable ? EXT_CRAWLABLE : 0)
            | (link->forward_query == ML_CHOICE_ON ? EXT_QUERY_ON : 0)
            | (link->forward_query == ML_CHOICE_OFF ? EXT_QUERY_OFF : 0)
            | (link->forward_path == ML_CHOICE_ON ? EXT_PATH_ON : 0)
            | (link->forward_path == ML_CHOICE_OFF ? EXT_PATH_OFF : 0);
    memcpy(out, &size, 4);
    memcpy(out + 4, &what, 2);
    memcpy(out + 6, &unused, 2);
}

/* The sizes of a link's record, measured once for both sizing and
 * writing it (a load does both for every link). */
typedef struct {
    apr_size_t slug_len, url_len;
    apr_size_t extension;        /* 0: a plain link */
    apr_size_t size;             /* the whole record, padding included */
} record_shape;

static void shape_of(const ml_link *link, record_shape *shape)
{
    shape->slug_len = strlen(link->slug);
    shape->url_len = strlen(link->url);
    shape->extension = extension_size(link);
    shape->size = text_end(shape->slug_len, shape->url_len)
                  + ALIGN_UP(shape->extension, RECORD_ALIGN);
}

/* Writes the link's record (shape->size bytes, zeroed by the caller or
 * never used before: padding stays 0) at record. */
static void encode_record(const ml_link *link, const record_shape *shape,
                          apr_uint32_t click_cell, ml_record *record)
{
    apr_size_t slug_len = shape->slug_len, url_len = shape->url_len;
    apr_size_t extension = shape->extension;
    char *text;

    record->expires_at = stored_expiry(link->expires_at);
    record->url_len = (apr_uint16_t)url_len;
    record->slug_len = (uint8_t)slug_len;
    record->flags = record_flags(link) | (extension ? FLAG_EXTENDED : 0);
    record->click_cell = click_cell;
    text = (char *)(record + 1);
    memcpy(text, link->slug, slug_len);
    memcpy(text + slug_len, link->url, url_len);
    text[slug_len + url_len] = '\0';
    if (extension) {
        write_extension(link, (unsigned char *)record
                              + text_end(slug_len, url_len),
                        (apr_uint32_t)extension);
    }
}

/* Appends a record for the link; returns its ref, or 0 if the arena is full. */
static apr_uint32_t append_record(ml_cache *cache, const ml_link *link,
                                  apr_uint32_t click_cell)
{
    apr_uint64_t at = atomic_load_explicit(&cache->header->arena_used,
                                           memory_order_relaxed);
    record_shape shape;

    shape_of(link, &shape);
    if (at + shape.size > cache->header->arena_bytes) {
        return 0;
    }
    /* The arena past arena_used was never written: its padding is 0. */
    encode_record(link, &shape, click_cell, (ml_record *)(cache->arena + at));
    atomic_store_explicit(&cache->header->arena_used, at + shape.size,
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
    apr_size_t size = text_end(record->slug_len, record->url_len);
    apr_uint32_t extension;

    if (record->flags & FLAG_EXTENDED) {
        memcpy(&extension, (const char *)record + size, 4);
        size += ALIGN_UP(extension, RECORD_ALIGN);
    }
    return size;
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
    const ml_record *record;
    ml_record *wanted;
    record_shape shape;
    long unused;
    int same;

    shape_of(link, &shape);
    if (find_slot(cache, origin_of(cache, link->slug, shape.slug_len),
                  link->slug, shape.slug_len, &record, &unused) < 0
        || record_size(record) != shape.size) {
        return 0;
    }
    /* The record this link would get, compared byte for byte (but for the
     * click cell, which is not the link's). */
    if ((wanted = calloc(1, shape.size)) == NULL) {
        return 0;
    }
    encode_record(link, &shape, record->click_cell, wanted);
    same = memcmp(wanted, record, shape.size) == 0;
    free(wanted);
    return same;
}

void ml_cache_entry_of(const ml_link *link, apr_pool_t *pool,
                       ml_cache_entry *entry)
{
    record_shape shape;
    ml_record *record;

    shape_of(link, &shape);
    record = apr_pcalloc(pool, shape.size);
    encode_record(link, &shape, ML_CACHE_NO_CELL, record);
    fill_entry(record, entry);
}

void ml_cache_rules_of(const ml_cache_entry *entry, ml_cache_rules *rules)
{
    const unsigned char *at = entry->extension;
    apr_uint16_t what, len;
    apr_uint32_t number;

    memset(rules, 0, sizeof(*rules));
    memcpy(&what, at + 4, 2);
    at += EXT_HEADER;
    if (what & EXT_VALID_SINCE) {
        memcpy(&number, at, 4);
        rules->valid_since = number;
        at += 4;
    }
    if (what & EXT_MAX_VISITS) {
        memcpy(&rules->max_visits, at, 4);
        at += 4;
    }
    if (what & EXT_FALLBACK) {
        memcpy(&len, at, 2);
        rules->fallback_url = (const char *)at + 2;
        rules->fallback_len = len;
        at += 2 + len + 1;
    }
    if (what & EXT_PASSWORD) {
        rules->password_hash = (const char *)at;
        at += PASSWORD_HASH_LEN + 1;
    }
    if (what & EXT_TITLE) {
        memcpy(&len, at, 2);
        rules->title = (const char *)at + 2;
        at += 2 + len + 1;
    }
    if (what & EXT_TAGS) {
        const unsigned char *tag;
        memcpy(&len, at, 2);
        rules->tags = (const char *)at + 2;
        for (tag = at + 2; tag < at + 2 + len; tag += strlen((const char *)tag) + 1) {
            rules->ntags++;
        }
        at += 2 + len;
    }
    if (what & EXT_RULES) {
        rules->rules = at;
    }
    rules->crawlable = (what & EXT_CRAWLABLE) != 0;
    rules->forward_query = what & EXT_QUERY_ON ? ML_CHOICE_ON
                           : what & EXT_QUERY_OFF ? ML_CHOICE_OFF
                           : ML_CHOICE_DEFAULT;
    rules->forward_path = what & EXT_PATH_ON ? ML_CHOICE_ON
                          : what & EXT_PATH_OFF ? ML_CHOICE_OFF
                          : ML_CHOICE_DEFAULT;
}

apr_status_t ml_cache_each_link(const ml_cache *cache, ml_cache_link_fn *fn,
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
            ml_cache_entry entry;
            fill_entry(record, &entry);
            if ((rv = fn(ctx, record_text(record), record->slug_len, &entry))) {
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
