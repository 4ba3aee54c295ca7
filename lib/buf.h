/*
 * A growable byte buffer, always NUL-terminated.
 *
 * Ownership: a struct buf owns its data. buf_release() frees it and leaves an
 * empty buffer; buf_detach() hands the string to the caller, who frees it.
 */
#ifndef JOBRUN_BUF_H
#define JOBRUN_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the allocation */
char *buf_detach(struct buf *b);
/* Room for extra more bytes and the NUL. A size past SIZE_MAX aborts, as
 * running out of memory does (xalloc.h). */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_adds(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Never NULL: "" for an empty buffer. */
const char *buf_str(const struct buf *b);

#endif
