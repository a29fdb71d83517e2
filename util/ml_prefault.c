/*
 * ml_prefault.c - map a shared segment's pages into this process at once.
 */
#include <unistd.h>
#include <sys/mman.h>
#include "ml_prefault.h"

/* Linux 5.14's "fault these pages in for reading"; glibc's headers may be
 * older than the kernel. */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

void ml_prefault(const void *from, apr_size_t bytes)
{
    apr_uintptr_t page = (apr_uintptr_t)sysconf(_SC_PAGESIZE);
    apr_uintptr_t start = (apr_uintptr_t)from / page * page;
    apr_uintptr_t end = (apr_uintptr_t)from + bytes;
    volatile const char *at;

    if (bytes == 0) {
        return;
    }
    /* One call maps them all; an older kernel says EINVAL, and reading a
     * byte of each page does the same one fault at a time. */
    if (madvise((void *)start, end - start, MADV_POPULATE_READ) == 0) {
        return;
    }
    for (at = (const char *)start; (apr_uintptr_t)at < end; at += page) {
        (void)*at;
    }
}
