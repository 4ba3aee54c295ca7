/*
 * JSON text sanitizing (json_text.h): a byte-level pass that keeps the
 * text's structure and replaces what jansson or Postgres would reject.
 */
#include "json_text.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

static const char replacement_utf8[] = "\xEF\xBF\xBD";

/* Length of a valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_valid_len(const unsigned char *p, size_t left)
{
	if (p[0] < 0x80)
		return 1;
	size_t n;
	uint32_t cp;
	if ((p[0] & 0xE0) == 0xC0)
		n = 2, cp = p[0] & 0x1F;
	else if ((p[0] & 0xF0) == 0xE0)
		n = 3, cp = p[0] & 0x0F;
	else if ((p[0] & 0xF8) == 0xF0)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid too. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n;
}

static int hex4(const char *p, size_t left, unsigned *out)
{
	if (left < 4)
		return -1;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i];
		if (!isxdigit(c))
			return -1;
		v = v * 16 + (unsigned)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
	}
	*out = v;
	return 0;
}

/* Inside a string at a backslash: copy the escape, replacing the ones that
 * jansson or Postgres reject. Returns bytes consumed. */
static size_t copy_escape(struct buf *out, const char *p, size_t left, int *replaced)
{
	unsigned u, low;
	if (left < 2 || p[1] != 'u' || hex4(p + 2, left - 2, &u)) {
		size_t n = left < 2 ? left : 2;
		buf_add(out, p, n);
		return n;
	}
	if (u >= 0xD800 && u <= 0xDBFF && left >= 12 && p[6] == '\\' && p[7] == 'u' &&
	    !hex4(p + 8, left - 8, &low) && low >= 0xDC00 && low <= 0xDFFF) {
		buf_add(out, p, 12); /* a proper surrogate pair */
		return 12;
	}
	if (u == 0 || (u >= 0xD800 && u <= 0xDFFF)) {
		buf_adds(out, "\\ufffd");
		(*replaced)++;
		return 6;
	}
	buf_add(out, p, 6);
	return 6;
}

char *json_text_sanitize(const char *body, size_t len, size_t *out_len, int *replaced)
{
	struct buf out = BUF_INIT;
	bool in_string = false;
	size_t i = 0;
	*replaced = 0;
	buf_grow(&out, len);
	while (i < len) {
		/* Most of a body is plain ASCII: copy such runs whole. */
		size_t run = i;
		while (run < len && (unsigned char)body[run] >= 0x01 && (unsigned char)body[run] < 0x80 &&
		       body[run] != '"' && body[run] != '\\')
			run++;
		if (run > i) {
			buf_add(&out, body + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = (unsigned char)body[i];
		if (in_string && c == '\\') {
			i += copy_escape(&out, body + i, len - i, replaced);
			continue;
		}
		if (c == '"')
			in_string = !in_string;
		size_t n = c == 0 ? 0 : utf8_valid_len((const unsigned char *)body + i, len - i);
		if (!n) {
			buf_adds(&out, replacement_utf8);
			(*replaced)++;
			i++;
			continue;
		}
		buf_add(&out, body + i, n);
		i += n;
	}
	*out_len = out.len;
	return buf_detach(&out);
}

