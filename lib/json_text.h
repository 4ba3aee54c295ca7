/*
 * JSON text from outside made safe for jansson and Postgres, whatever the
 * provider: invalid UTF-8 bytes, a NUL byte, lone surrogate escapes and
 * \u0000 become U+FFFD. Pure, fuzzed (test/fuzz/fuzz_comicvine.c).
 *
 * Ownership: the returned string is the caller's (free()).
 */
#ifndef JOBRUN_JSON_TEXT_H
#define JOBRUN_JSON_TEXT_H

#include <stddef.h>

/* A new NUL-terminated copy of body[0..len) with *out_len its length and
 * *replaced the number of replacements. */
char *json_text_sanitize(const char *body, size_t len, size_t *out_len, int *replaced);

#endif
