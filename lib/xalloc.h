/*
 * Allocation that never returns NULL.
 *
 * jobrun is a short-lived batch process: when malloc fails there is nothing
 * sensible left to do, so these abort with a message instead of making every
 * caller carry an out-of-memory path it cannot test.
 */
#ifndef JOBRUN_XALLOC_H
#define JOBRUN_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
