/*
 * ml_visits_drain.h - moves the visits published in the ring
 * (cache/ml_visits.h) into the database's visits table.
 *
 * One drain is one write transaction: the visits, a few hundred to a
 * statement, their links' daily roll-up, and the ring position reached,
 * kept in minilink_meta under the ring's key.  Only after the commit are
 * the slots freed.  So a drainer killed before its commit leaves the
 * visits in the ring for the next one, and one killed after it leaves a
 * position in the database that tells the next one to free them without
 * writing them again.  Callers must not drain one ring concurrently (hold
 * a lock).  Depends on APR, the store and the user-agent classifier.
 */
#ifndef ML_VISITS_DRAIN_H
#define ML_VISITS_DRAIN_H

#include "../cache/ml_visits.h"
#include "../links/ml_agent.h"
#include "../links/ml_store.h"

/* Visits a drain writes at most, so that its transaction stays short; the
 * rest waits for the next. */
#define ML_VISITS_DRAIN_MOST 16384
/* How long a slot claimed but not published is waited for when its writer
 * is alive (a stopped process), in seconds. */
#define ML_VISITS_GRACE_SECONDS 10

/*
 * Writes up to ML_VISITS_DRAIN_MOST published visits (agents classifies
 * their user agents for the bot flag; NULL: none is a bot) at `now` (Unix
 * seconds).  *written gets how many.  On failure the visits stay in the
 * ring for the next try.
 */
apr_status_t ml_visits_drain(ml_visits *ring, ml_store *store,
                             ml_agents *agents, apr_int64_t now,
                             apr_uint64_t *written, apr_pool_t *scratch);

#endif /* ML_VISITS_DRAIN_H */
