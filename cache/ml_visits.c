/*
 * ml_visits.c - the visits ring in one shared-memory segment.
 *
 * Layout (offsets from the segment's base; no pointers):
 *
 *   0      +--------------------------------------------+
 *          | geometry: magic, layout, slots, mask, key   |  written once
 *   64     +--------------------------------------------+
 *          | tail: the next position to claim            |  writers (CAS)
 *   128    +--------------------------------------------+
 *          | writers' counters: dropped, orphans by kind |  writers, rarely
 *   192    +--------------------------------------------+
 *          | the drainer's: head, the slot it waits on,  |  drainer only
 *          | lost, written, errors, episode, failing     |  (under its lock)
 *   320    +--------------------------------------------+
 *          | slot[0] | slot[1] | ... | slot[slots - 1]   |  1 KiB each
 *          +--------------------------------------------+
 *
 *   slot:  0    seq u64          position p: free for p when seq == p,
 *                                 published when seq == p + 1 (stored
 *                                 less the slot's index: see slot_seq())
 *          8    claim u64        (p's low 32 bits) << 32 | writer's pid
 *          16   visited_at i64, 24 link_id i64
 *          32   kind u8 | ip_family u8 | country 2 bytes |
 *               path_len, referrer_len, user_agent_len, url_len u16 | pad
 *          48   ip: 16 bytes, anonymised
 *          64   path [128] | referrer [192] | user_agent [256] | url [384]
 *          1024
 *
 * The protocol is Dmitry Vyukov's bounded queue, with positions counting
 * up for ever (64 bits do not wrap) and position p living in slot
 * p mod slots.  A writer reads the tail p; if slot p's seq is p the slot
 * is free and one compare-and-swap of the tail from p to p + 1 makes it
 * the writer's; if seq is below p the slot still holds the visit of
 * position p - slots, not yet drained: the ring is full and the visit is
 * dropped (counted) - the writer never waits.  It fills the slot, then
 * publishes it with seq = p + 1 (release; the drainer reads seq with
 * acquire, so it sees the whole visit).  The drainer reads published slots
 * from its head on, writes them to the database, and only after the commit
 * frees each with seq = p + slots: free for the writer of the next lap.
 *
 * A writer killed between its claim and its publish would leave the
 * drainer waiting on that slot for ever.  So the writer stamps the slot
 * with its position and pid right after the claim, and the drainer gives
 * the slot up - counts its visit as lost and frees it - when that process
 * no longer exists, or when the slot has waited grace_seconds anyway (a
 * writer killed before its stamp, a stopped process).  Publishing is a
 * compare-and-swap from p, so a writer that comes back after that finds
 * the slot given up and publishes nothing.  What a late writer still does
 * is finish copying its fields into a slot that, if the ring has gone
 * round once more meanwhile, belongs to another visit; that takes a
 * writer stopped for grace_seconds halfway through a copy of a few hundred
 * bytes, and is the one hazard this design accepts.
 *
 * Why 1 KiB slots: the fields are cut to fixed sizes (ml_visits.h) so that
 * a slot is one size and a claim is one atomic; 1 KiB keeps the common
 * user agents, referrers and redirect URLs whole.  How many: enough for
 * the visits of a flood while the database is busy with a click flush,
 * which the module sizes from the links it loads (module/lifecycle.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <string.h>
#include <apr_general.h>
#include <apr_lib.h>
#include <apr_shm.h>
#include "ml_visits.h"

#define VISITS_MAGIC 0x4d4c5653u          /* "MLVS" */
#define VISITS_LAYOUT 1
#define HEADER_BYTES 320u
#define KEY_BYTES 8u

const char *const ml_visit_kind_names[ML_VISIT_KINDS] = {
    "valid_short_url", "invalid_short_url", "base_url", "regular_404"
};

typedef struct {
    /* Written once, by ml_visits_create(). */
    apr_uint32_t magic;
    apr_uint32_t layout;
    apr_uint32_t slots;
    apr_uint32_t mask;
    char meta_key[40];                   /* "visits:" + 16 hex digits */
    char pad0[64 - 16 - 40];
    /* Writers. */
    _Atomic apr_uint64_t tail;
    char pad1[64 - 8];
    _Atomic apr_uint64_t dropped;
    _Atomic apr_uint64_t orphans[ML_VISIT_KINDS];
    char pad2[64 - 8 - 8 * ML_VISIT_KINDS];
    /* The drainer (one at a time, under its lock); atomics where other
     * processes read them for statistics. */
    _Atomic apr_uint64_t head;
    apr_uint64_t waiting_on;             /* a slot claimed, not published */
    apr_int64_t waiting_since;           /*   ... seen first then */
    _Atomic apr_uint64_t lost;
    _Atomic apr_uint64_t written;
    _Atomic apr_int64_t last_drain_at;
    _Atomic apr_uint64_t drain_errors;
    apr_uint64_t dropped_seen;           /* ml_visits_dropped_since() */
    apr_uint32_t dropping;               /*   ... an episode goes on */
    _Atomic apr_uint32_t failing;        /* the last drain failed */
} visits_header;

typedef struct {
    _Atomic apr_uint64_t seq;
    _Atomic apr_uint64_t claim;
    apr_int64_t visited_at;
    apr_int64_t link_id;
    unsigned char kind;
    unsigned char ip_family;
    char country[2];
    apr_uint16_t path_len;
    apr_uint16_t referrer_len;
    apr_uint16_t user_agent_len;
    apr_uint16_t url_len;
    char pad[4];
    unsigned char ip[16];
    char path[ML_VISIT_PATH_MAX];
    char referrer[ML_VISIT_REFERRER_MAX];
    char user_agent[ML_VISIT_USER_AGENT_MAX];
    char url[ML_VISIT_URL_MAX];
} visit_slot;

struct ml_visits {
    visits_header *header;
    visit_slot *slots;
    apr_size_t segment_bytes;
};

typedef char header_fits[sizeof(visits_header) <= HEADER_BYTES ? 1 : -1];
typedef char slot_is_1k[sizeof(visit_slot) == ML_VISIT_SLOT_BYTES ? 1 : -1];
typedef char tail_on_its_line[offsetof(visits_header, tail) == 64 ? 1 : -1];
typedef char drainer_on_its_line[offsetof(visits_header, head) == 192 ? 1 : -1];

#define CLAIM(position, writer) \
    ((apr_uint64_t)(apr_uint32_t)(position) << 32 | (apr_uint32_t)(writer))

static visit_slot *slot_of(const ml_visits *ring, apr_uint64_t position)
{
    return &ring->slots[position & ring->header->mask];
}

/*
 * The sequence number of position's slot.  It is stored less the slot's
 * index, so that the zeroed mapping already says "free for its first
 * position" to every slot: a page of the ring is touched only when a
 * visit first uses it, not at startup.
 */
static apr_uint64_t slot_seq(const ml_visits *ring, apr_uint64_t position,
                             memory_order order)
{
    return atomic_load_explicit(&slot_of(ring, position)->seq, order)
           + (position & ring->header->mask);
}

/* Compare-and-swap of position's sequence number from `from` to `to`. */
static int swap_seq(ml_visits *ring, apr_uint64_t position, apr_uint64_t from,
                    apr_uint64_t to, memory_order success)
{
    apr_uint64_t index = position & ring->header->mask;
    apr_uint64_t expected = from - index;

    return atomic_compare_exchange_strong_explicit(
        &slot_of(ring, position)->seq, &expected, to - index, success,
        memory_order_relaxed);
}

apr_status_t ml_visits_create(ml_visits **result, apr_uint32_t slots,
                              apr_pool_t *pool)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char key[KEY_BYTES];
    apr_uint32_t count = ML_VISITS_FEWEST_SLOTS, i;
    visits_header *header;
    ml_visits *ring;
    apr_shm_t *shm;
    apr_size_t size;
    apr_status_t rv;

    *result = NULL;
    while (count < slots && count < ML_VISITS_MOST_SLOTS) {
        count <<= 1;
    }
    size = HEADER_BYTES + (apr_size_t)count * sizeof(visit_slot);
    if ((rv = apr_generate_random_bytes(key, sizeof(key))) != APR_SUCCESS
        || (rv = apr_shm_create(&shm, size, NULL, pool)) != APR_SUCCESS) {
        return rv;
    }
    ring = apr_pcalloc(pool, sizeof(*ring));
    ring->header = header = apr_shm_baseaddr_get(shm);
    ring->slots = (visit_slot *)((char *)header + HEADER_BYTES);
    ring->segment_bytes = size;
    header->magic = VISITS_MAGIC;
    header->layout = VISITS_LAYOUT;
    header->slots = count;
    header->mask = count - 1;
    /* The database keeps the position drained under a key of this ring's
     * own, so hosts sharing a database do not confuse their rings. */
    memcpy(header->meta_key, "visits:", 7);
    for (i = 0; i < KEY_BYTES; i++) {
        header->meta_key[7 + 2 * i] = hex[key[i] >> 4];
        header->meta_key[8 + 2 * i] = hex[key[i] & 15];
    }
    header->meta_key[7 + 2 * KEY_BYTES] = '\0';
    *result = ring;
    return APR_SUCCESS;
}

apr_uint32_t ml_visits_slots(const ml_visits *ring)
{
    return ring->header->slots;
}

apr_size_t ml_visits_segment_bytes(const ml_visits *ring)
{
    return ring->segment_bytes;
}

const char *ml_visits_batch_key(const ml_visits *ring)
{
    return ring->header->meta_key;
}

apr_uint64_t ml_visits_head(const ml_visits *ring)
{
    return atomic_load_explicit(&ring->header->head, memory_order_relaxed);
}

/* ---- writers ------------------------------------------------------------ */

/* Copies up to max bytes of text (none for NULL) into a field; its length.
 * (strnlen and memcpy: the C library's vector code, a few instructions for
 * a whole user agent, where a byte loop cost a thousand.) */
static apr_uint16_t copy_field(char *field, apr_size_t max, const char *text)
{
    apr_size_t len = text ? strnlen(text, max) : 0;

    if (len) {
        memcpy(field, text, len);
    }
    return (apr_uint16_t)len;
}

/*
 * The Referer after its scheme, as sent: the reader keeps its host and
 * path (read_referrer()), so that the redirect path does not scan it.
 */
static apr_uint16_t copy_referrer(char *field, const char *referrer)
{
    const char *scheme_end = referrer ? strstr(referrer, "://") : NULL;

    return copy_field(field, ML_VISIT_REFERRER_MAX,
                      scheme_end ? scheme_end + 3 : referrer);
}

/* The last octet of an IPv4 address, the last 80 bits of an IPv6 one,
 * zeroed; an IPv4 address mapped into IPv6 is kept as IPv4. */
static void copy_ip(visit_slot *slot, int family, const unsigned char *ip)
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                              0xff, 0xff };

    memset(slot->ip, 0, sizeof(slot->ip));
    slot->ip_family = 0;
    if (family == 6 && memcmp(ip, mapped, sizeof(mapped)) == 0) {
        family = 4;
        ip += sizeof(mapped);
    }
    if (family == 4) {
        memcpy(slot->ip, ip, 3);
        slot->ip_family = 4;
    }
    else if (family == 6) {
        memcpy(slot->ip, ip, 6);
        slot->ip_family = 6;
    }
}

int ml_visits_record(ml_visits *ring, apr_uint32_t writer,
                     const ml_visit *visit)
{
    visits_header *header = ring->header;
    apr_uint64_t position = atomic_load_explicit(&header->tail,
                                                 memory_order_relaxed);
    visit_slot *slot;

    for (;;) {
        apr_int64_t lap;
        slot = slot_of(ring, position);
        lap = (apr_int64_t)(slot_seq(ring, position, memory_order_acquire)
                            - position);
        if (lap == 0) {
            if (atomic_compare_exchange_weak_explicit(
                    &header->tail, &position, position + 1,
                    memory_order_relaxed, memory_order_relaxed)) {
                break;
            }
        }
        else if (lap < 0) {
            atomic_fetch_add_explicit(&header->dropped, 1,
                                      memory_order_relaxed);
            return 0;
        }
        else {
            position = atomic_load_explicit(&header->tail,
                                            memory_order_relaxed);
        }
    }
    atomic_store_explicit(&slot->claim, CLAIM(position, writer),
                          memory_order_relaxed);
    slot->visited_at = visit->visited_at;
    slot->link_id = visit->link_id;
    slot->kind = (unsigned char)visit->kind;
    slot->country[0] = slot->country[1] = '\0';
    if (visit->country && visit->country[0] && visit->country[1]
        && visit->country[2] == '\0') {
        slot->country[0] = visit->country[0];
        slot->country[1] = visit->country[1];
    }
    slot->path_len = copy_field(slot->path, ML_VISIT_PATH_MAX, visit->path);
    slot->referrer_len = copy_referrer(slot->referrer, visit->referrer);
    slot->user_agent_len = copy_field(slot->user_agent,
                                      ML_VISIT_USER_AGENT_MAX,
                                      visit->user_agent);
    slot->url_len = copy_field(slot->url, ML_VISIT_URL_MAX,
                               visit->redirect_url);
    copy_ip(slot, visit->ip_family, visit->ip);
    if (!swap_seq(ring, position, position, position + 1,
                  memory_order_release)) {
        return 0;               /* given up by the drainer: counted lost */
    }
    if (visit->kind != ML_VISIT_LINK && visit->kind < ML_VISIT_KINDS) {
        atomic_fetch_add_explicit(&header->orphans[visit->kind], 1,
                                  memory_order_relaxed);
    }
    return 1;
}

/* ---- the drainer ---------------------------------------------------------- */

/* Length of the longest prefix of text[0..len) that ends on a UTF-8
 * character boundary. */
static apr_size_t whole_characters(const unsigned char *text, apr_size_t len)
{
    apr_size_t start = len, need;

    /* At most three continuation bytes back to the last lead byte. */
    while (start > 0 && len - start < 4 && (text[start - 1] & 0xC0) == 0x80) {
        start--;
    }
    if (start == 0) {
        return len;
    }
    start--;
    need = text[start] < 0x80 ? 1 : (text[start] & 0xE0) == 0xC0 ? 2
         : (text[start] & 0xF0) == 0xE0 ? 3 : (text[start] & 0xF8) == 0xF0 ? 4
         : 1;
    return start + need <= len ? len : start;
}

/* The length of a valid UTF-8 character at text (at most `left` bytes),
 * or 0: overlong forms, surrogates and code points past U+10FFFF are not. */
static apr_size_t utf8_character(const unsigned char *text, apr_size_t left)
{
    apr_uint32_t code;
    apr_size_t need, i;

    if (text[0] < 0x80) {
        return 1;
    }
    need = (text[0] & 0xE0) == 0xC0 ? 2 : (text[0] & 0xF0) == 0xE0 ? 3
         : (text[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (need == 0 || need > left) {
        return 0;
    }
    code = text[0] & (0x7Fu >> need);
    for (i = 1; i < need; i++) {
        if ((text[i] & 0xC0) != 0x80) {
            return 0;
        }
        code = code << 6 | (text[i] & 0x3Fu);
    }
    if ((need == 2 && code < 0x80) || (need == 3 && code < 0x800)
        || (need == 4 && code < 0x10000) || code > 0x10FFFF
        || (code >= 0xD800 && code <= 0xDFFF)) {
        return 0;
    }
    return need;
}

/*
 * A field as text the database and JSON take: cut at a character
 * boundary, a control character or a byte that is no UTF-8 turned into
 * "?" (header values may hold any byte; PostgreSQL refuses invalid UTF-8).
 */
static void read_text(char *out, const char *field, apr_size_t len)
{
    const unsigned char *text = (const unsigned char *)field;
    apr_size_t at = 0, n;

    len = whole_characters(text, len);
    while (at < len) {
        if (text[at] < 0x20 || text[at] == 0x7F
            || (n = utf8_character(text + at, len - at)) == 0) {
            *out++ = '?';
            at++;
            continue;
        }
        memcpy(out, text + at, n);
        out += n;
        at += n;
    }
    *out = '\0';
}

/* The referrer's host and path: without a user:password@ (before the
 * first "/"), the query and the fragment, which may carry what the visitor
 * searched for or who they are. */
static void read_referrer(char *out, const char *field, apr_size_t len)
{
    const char *end = field + len, *at;
    const char *path = memchr(field, '/', len);

    at = memchr(field, '@', (apr_size_t)((path ? path : end) - field));
    if (at) {
        field = at + 1;
    }
    for (at = field; at < end && *at != '?' && *at != '#'; at++) {
    }
    read_text(out, field, (apr_size_t)(at - field));
}

static void read_slot(const visit_slot *slot, apr_uint64_t position,
                      ml_visit_record *record)
{
    record->position = position;
    record->kind = slot->kind < ML_VISIT_KINDS ? (ml_visit_kind)slot->kind
                                                : ML_VISIT_REGULAR_404;
    record->link_id = record->kind == ML_VISIT_LINK ? slot->link_id : 0;
    record->visited_at = slot->visited_at;
    read_text(record->path, slot->path, slot->path_len);
    read_referrer(record->referrer, slot->referrer, slot->referrer_len);
    read_text(record->user_agent, slot->user_agent, slot->user_agent_len);
    read_text(record->redirect_url, slot->url, slot->url_len);
    record->country[0] = '\0';
    if (apr_isalpha(slot->country[0]) && apr_isalpha(slot->country[1])) {
        record->country[0] = (char)apr_toupper(slot->country[0]);
        record->country[1] = (char)apr_toupper(slot->country[1]);
        record->country[2] = '\0';
    }
    record->ip[0] = '\0';
    if (slot->ip_family == 4 || slot->ip_family == 6) {
        inet_ntop(slot->ip_family == 4 ? AF_INET : AF_INET6, slot->ip,
                  record->ip, sizeof(record->ip));
    }
}

/* True if the process that claimed a slot has gone (kill(pid, 0): not
 * there at all; EPERM means it exists as someone else's). */
static int writer_gone(apr_uint64_t claim)
{
    pid_t pid = (pid_t)(apr_uint32_t)claim;

    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

/*
 * Whether the drainer gives up a slot claimed for position but not
 * published: its writer died, or it has waited grace_seconds.  Given up,
 * the slot is freed for the next lap (unless its writer published it at
 * this very moment: then it is read as usual).
 */
static int give_up(ml_visits *ring, visit_slot *slot, apr_uint64_t position,
                   apr_int64_t now, apr_int64_t grace_seconds)
{
    visits_header *header = ring->header;
    apr_uint64_t claim = atomic_load_explicit(&slot->claim,
                                              memory_order_relaxed);

    if (header->waiting_on != position + 1) {
        header->waiting_on = position + 1;     /* 0 means none */
        header->waiting_since = now;
    }
    if (!((claim >> 32 == (apr_uint32_t)position && writer_gone(claim))
          || now - header->waiting_since >= grace_seconds)) {
        return 0;
    }
    if (!swap_seq(ring, position, position, position + header->slots,
                  memory_order_acq_rel)) {
        return 0;               /* published after all: read it */
    }
    atomic_fetch_add_explicit(&header->lost, 1, memory_order_relaxed);
    header->waiting_on = 0;
    return 1;
}

apr_size_t ml_visits_read(ml_visits *ring, apr_uint64_t from,
                          ml_visit_record *out, apr_size_t max,
                          apr_uint64_t *next, apr_int64_t now,
                          apr_int64_t grace_seconds)
{
    visits_header *header = ring->header;
    apr_uint64_t position = from;
    apr_size_t count = 0;

    while (count < max) {
        visit_slot *slot = slot_of(ring, position);
        apr_uint64_t seq = slot_seq(ring, position, memory_order_acquire);
        if (seq == position + 1) {
            read_slot(slot, position, &out[count++]);
            position++;
            continue;
        }
        if (seq != position) {
            /* Below: never claimed since the last lap (the ring ends
             * here).  Above: given up earlier and possibly reused. */
            if ((apr_int64_t)(seq - position) < 0) {
                break;
            }
            position++;
            continue;
        }
        /* Free for this position: claimed (the tail is past it) but not
         * published, or the end of what was written. */
        if (atomic_load_explicit(&header->tail, memory_order_acquire)
            <= position
            || !give_up(ring, slot, position, now, grace_seconds)) {
            break;
        }
        position++;
    }
    *next = position;
    return count;
}

void ml_visits_release(ml_visits *ring, apr_uint64_t end, apr_int64_t now)
{
    visits_header *header = ring->header;
    apr_uint64_t position = atomic_load_explicit(&header->head,
                                                 memory_order_relaxed);

    for (; (apr_int64_t)(end - position) > 0; position++) {
        /* Slots given up were freed already; the others are ours. */
        if (swap_seq(ring, position, position + 1, position + header->slots,
                     memory_order_release)) {
            atomic_fetch_add_explicit(&header->written, 1,
                                      memory_order_relaxed);
        }
        atomic_store_explicit(&header->head, position + 1,
                              memory_order_relaxed);
        atomic_store_explicit(&header->last_drain_at, now,
                              memory_order_relaxed);
    }
}

void ml_visits_stats_get(const ml_visits *ring, ml_visits_stats *stats)
{
    const visits_header *header = ring->header;
    apr_uint64_t tail = atomic_load_explicit(&header->tail,
                                             memory_order_relaxed);
    apr_uint64_t head = atomic_load_explicit(&header->head,
                                             memory_order_relaxed);
    int kind;

    memset(stats, 0, sizeof(*stats));
    stats->slots = header->slots;
    stats->lost = atomic_load_explicit(&header->lost, memory_order_relaxed);
    stats->recorded = tail - stats->lost;
    stats->pending = tail > head ? tail - head : 0;
    stats->dropped = atomic_load_explicit(&header->dropped,
                                          memory_order_relaxed);
    for (kind = 1; kind < ML_VISIT_KINDS; kind++) {
        stats->orphans[kind] = atomic_load_explicit(&header->orphans[kind],
                                                    memory_order_relaxed);
    }
    stats->written = atomic_load_explicit(&header->written,
                                          memory_order_relaxed);
    stats->last_drain_at = atomic_load_explicit(&header->last_drain_at,
                                                memory_order_relaxed);
    stats->drain_errors = atomic_load_explicit(&header->drain_errors,
                                               memory_order_relaxed);
}

void ml_visits_note_drain_error(ml_visits *ring)
{
    atomic_fetch_add_explicit(&ring->header->drain_errors, 1,
                              memory_order_relaxed);
}

apr_uint64_t ml_visits_dropped_since(ml_visits *ring, int *started)
{
    visits_header *header = ring->header;
    apr_uint64_t dropped = atomic_load_explicit(&header->dropped,
                                                memory_order_relaxed);
    apr_uint64_t since = dropped - header->dropped_seen;

    /* An episode goes on while each look finds new drops. */
    *started = since > 0 && !header->dropping;
    header->dropping = since > 0;
    header->dropped_seen = dropped;
    return since;
}

int ml_visits_swap_failing(ml_visits *ring, int failing)
{
    return (int)atomic_exchange_explicit(&ring->header->failing,
                                         (apr_uint32_t)failing,
                                         memory_order_acq_rel);
}

int ml_visits_failing(const ml_visits *ring)
{
    return (int)atomic_load_explicit(&ring->header->failing,
                                     memory_order_acquire);
}
