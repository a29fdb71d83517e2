/*
 * ml_prefault.h - map a shared segment's pages into this process at once.
 *
 * A child inherits the tables through fork, but Linux does not copy the
 * page tables of shared mappings: every page a child touches first costs
 * it a page fault (27,667 of them in a benchmark round right after start,
 * at a million links).  Children ask for the pages in child_init instead,
 * before their first request.  Depends on APR only.
 */
#ifndef ML_PREFAULT_H
#define ML_PREFAULT_H

#include <apr.h>

/* Maps the pages holding [from, from + bytes) that the segment already
 * uses; pages never written stay unallocated. */
void ml_prefault(const void *from, apr_size_t bytes);

#endif /* ML_PREFAULT_H */
