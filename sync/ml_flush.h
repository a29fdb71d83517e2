/*
 * ml_flush.h - writes the clicks counted in shared memory to the database.
 *
 * Each flush adds the counts to links.clicks (never overwrites: several
 * servers may share a database) and records its batch number in
 * minilink_meta in the same transaction, so that a flusher killed between
 * the commit and forgetting the batch cannot make the next one write it
 * twice (ml_clicks.h).  Depends on APR and the store (SQLite, PostgreSQL).
 */
#ifndef ML_FLUSH_H
#define ML_FLUSH_H

#include "../cache/ml_clicks.h"
#include "../links/ml_store.h"

/*
 * Adds every pending count to the database, in one transaction.  Callers
 * must not flush the same table concurrently (hold a lock).  On failure
 * everything stays in memory for the next try.  After a success, every
 * released cell without clicks is reusable.  *flushed gets the number of
 * clicks written.
 */
apr_status_t ml_flush(ml_clicks *clicks, ml_store *store, apr_int64_t now,
                      apr_uint64_t *flushed);

#endif /* ML_FLUSH_H */
