/*
 * ml_visits.h - the visits ring: what each request leaves for the visits
 * table, in shared memory, kept for the life of the httpd parent.
 *
 * A redirect (or an orphan 404) writes its visit into a slot of a ring
 * with one atomic to claim the slot and a sequence number to publish it:
 * no lock, no system call, and a ring that is full drops the visit (and
 * counts it) rather than wait.  One drainer at a time (the refresher,
 * under the flushers' lock) reads published visits, writes them to the
 * database and only then frees their slots (sync/ml_visits_drain.c), so a
 * drainer killed halfway loses nothing; the database keeps the position it
 * reached under ml_visits_batch_key(), so nothing is written twice.  The
 * ring outlives configuration generations, as the click table does: old
 * and new children write into it across a graceful restart.  The layout
 * is drawn at the top of ml_visits.c.  Depends on APR only.
 */
#ifndef ML_VISITS_H
#define ML_VISITS_H

#include <apr_pools.h>

typedef struct ml_visits ml_visits;

/* What a visit was: a click on a link, or one of Shlink's orphan visits. */
typedef enum {
    ML_VISIT_LINK = 0,              /* a redirect sent: a click */
    ML_VISIT_INVALID_SHORT_URL,     /* a slug that is not stored, or 410 */
    ML_VISIT_BASE_URL,              /* the location itself */
    ML_VISIT_REGULAR_404,           /* any other 404 under the location */
    ML_VISIT_KINDS
} ml_visit_kind;

/* The names the database, the JSON and the CLI use (Shlink's). */
extern const char *const ml_visit_kind_names[ML_VISIT_KINDS];

/*
 * What the ring keeps of each field, in bytes; longer values are cut
 * (at a UTF-8 character boundary when read back).  A slot is 1 KiB: see
 * ml_visits.c.
 */
#define ML_VISIT_PATH_MAX 128        /* the path visited, as httpd decoded it */
#define ML_VISIT_REFERRER_MAX 192    /* the Referer after its scheme; its
                                      * host and path are kept */
#define ML_VISIT_USER_AGENT_MAX 256
#define ML_VISIT_URL_MAX 384         /* the redirect URL sent */
#define ML_VISIT_SLOT_BYTES 1024

/* Ring sizes (slots; a power of two is made of any other number).  The
 * module's default is a slot per 4 links loaded, at least this many. */
#define ML_VISITS_DEFAULT_SLOTS 32768u
#define ML_VISITS_FEWEST_SLOTS 16u
#define ML_VISITS_MOST_SLOTS (1u << 24)

/* What a request hands the ring: raw values, cut to size by the ring. */
typedef struct {
    ml_visit_kind kind;
    apr_int64_t link_id;          /* the link clicked; 0 for an orphan visit */
    apr_int64_t visited_at;       /* Unix seconds */
    const char *path;             /* NUL-terminated; NULL: none */
    const char *referrer;         /* the Referer header as sent; NULL: none */
    const char *user_agent;       /* NULL: none */
    const char *redirect_url;     /* NULL for an orphan visit */
    const char *country;          /* the GeoIP variable's value; NULL: none */
    int ip_family;                /* 0 (not stored), 4 or 6 */
    const unsigned char *ip;      /* 4 or 16 bytes in network order, whole:
                                   * the ring keeps it anonymised */
} ml_visit;

/* A visit as the drainer reads it back: every string NUL-terminated,
 * valid UTF-8 without control characters. */
typedef struct {
    apr_uint64_t position;        /* its place in the ring's sequence */
    ml_visit_kind kind;
    apr_int64_t link_id;
    apr_int64_t visited_at;
    char path[ML_VISIT_PATH_MAX + 1];
    char referrer[ML_VISIT_REFERRER_MAX + 1];
    char user_agent[ML_VISIT_USER_AGENT_MAX + 1];
    char redirect_url[ML_VISIT_URL_MAX + 1];
    char country[3];              /* two capital letters, or "" */
    char ip[48];                  /* anonymised, as text; "" when not kept */
} ml_visit_record;

/*
 * A ring of `slots` slots (rounded up to a power of two, within the
 * limits above) in a new anonymous segment, inherited by every process
 * forked later and destroyed with pool.
 */
apr_status_t ml_visits_create(ml_visits **ring, apr_uint32_t slots,
                              apr_pool_t *pool);

apr_uint32_t ml_visits_slots(const ml_visits *ring);
apr_size_t ml_visits_segment_bytes(const ml_visits *ring);

/*
 * Writes a visit: 1 if published, 0 if dropped (the ring was full, which
 * is counted).  writer is the calling process's id, given by the caller
 * so that this makes no system call; the drainer uses it to tell a slot
 * whose writer died from one still being written.  Lock-free; any
 * process, any thread.
 */
int ml_visits_record(ml_visits *ring, apr_uint32_t writer,
                     const ml_visit *visit);

/*
 * The drainer's side (one at a time, under a lock).  Visits are read from
 * a position on, written to the database with the position after the last
 * one under ml_visits_batch_key() in the same transaction, and only then
 * released.
 */
const char *ml_visits_batch_key(const ml_visits *ring);
/* The first position not yet released. */
apr_uint64_t ml_visits_head(const ml_visits *ring);

/*
 * Reads up to max published visits from position `from` on into out, in
 * order, and sets *next to the position after the last one read.  Stops at
 * the first slot claimed but not yet published - unless its writer is dead
 * (it never will be), or has been at it for grace_seconds or more (counted
 * as lost, and given up); now is Unix seconds.  Returns how many.
 */
apr_size_t ml_visits_read(ml_visits *ring, apr_uint64_t from,
                          ml_visit_record *out, apr_size_t max,
                          apr_uint64_t *next, apr_int64_t now,
                          apr_int64_t grace_seconds);

/* The visits before position `end` are in the database: their slots are
 * free for new visits.  A position at or below the head is ignored. */
void ml_visits_release(ml_visits *ring, apr_uint64_t end, apr_int64_t now);

/* What the ring has done since it was made (all processes). */
typedef struct {
    apr_uint32_t slots;
    apr_uint64_t recorded;                /* published or being written */
    apr_uint64_t pending;                 /* not yet in the database */
    apr_uint64_t dropped;                 /* the ring was full */
    apr_uint64_t lost;                    /* their writer died writing them */
    apr_uint64_t orphans[ML_VISIT_KINDS]; /* recorded, by kind ([0] unused) */
    apr_uint64_t written;                 /* in the database */
    apr_int64_t last_drain_at;            /* Unix seconds; 0 = never */
    apr_uint64_t drain_errors;
} ml_visits_stats;

void ml_visits_stats_get(const ml_visits *ring, ml_visits_stats *stats);

/* A drain failed (the database could not be written): counted. */
void ml_visits_note_drain_error(ml_visits *ring);

/*
 * An episode of drops: the drainer asks, at each drain, how many visits
 * were dropped since it last asked; *started is set when these are the
 * first of an episode (none were dropped at the drain before), so the
 * drainer logs one line per episode.
 */
apr_uint64_t ml_visits_dropped_since(ml_visits *ring, int *started);

/* Whether draining is failing, shared by all processes so an outage is
 * logged once; returns the previous value. */
int ml_visits_swap_failing(ml_visits *ring, int failing);
int ml_visits_failing(const ml_visits *ring);

#endif /* ML_VISITS_H */
