/*
 * Building mail: addresses, header encoding, quoted-printable, base64 and the
 * MIME structure. Pure functions of their inputs (see mail.h); sending and
 * configuration live in mail.c.
 */
#include "mail.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "xalloc.h"

/* RFC 2045 §6.7 and RFC 2047 §2: encoded lines stay within 76 characters. */
#define LINE_MAX_CHARS 76

static int fail(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_len, const char *fmt, ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0: overlong forms,
 * surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0];
	size_t n;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* ---------------------------------------------------------------- addresses */

/* RFC 5322 atext: what a dot-atom may contain besides dots. */
static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* local@domain with a dot-atom local part and a host name domain. Quoted
 * local parts and domain literals are legal mail but not needed by anyone
 * configuring a job runner, and every byte refused here is one that cannot
 * reach an SMTP command or a header. */
static int check_addr_spec(const char *s, size_t len, char *why, size_t why_len)
{
	const char *at = memchr(s, '@', len);
	if (!at || memchr(at + 1, '@', len - (size_t)(at + 1 - s)))
		return fail(why, why_len, "an address needs exactly one @");
	size_t local = (size_t)(at - s), domain = len - local - 1;
	if (local == 0 || local > 64)
		return fail(why, why_len, "the part before @ must be 1 to 64 characters");
	for (size_t i = 0; i < local; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' ? (i == 0 || i == local - 1 || s[i - 1] == '.') : !is_atext(c))
			return fail(why, why_len, "invalid character or dot before @");
	}
	if (domain == 0 || domain > 253)
		return fail(why, why_len, "the domain must be 1 to 253 characters");
	const char *d = at + 1;
	size_t label = 0;
	for (size_t i = 0; i <= domain; i++) {
		if (i == domain || d[i] == '.') {
			if (label == 0 || label > 63 || d[i - 1] == '-' || d[i - label] == '-')
				return fail(why, why_len, "invalid domain");
			label = 0;
		} else if (is_ldh((unsigned char)d[i])) {
			label++;
		} else {
			return fail(why, why_len, "invalid character in the domain");
		}
	}
	return 0;
}

static void trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t'))
		(*s)++, (*len)--;
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

static int parse_address(const char *s, size_t len, char **addr, char **name, char *why,
			 size_t why_len)
{
	trim(&s, &len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(why, why_len, "control character in an address");
	const char *lt = memchr(s, '<', len);
	if (!lt) {
		if (check_addr_spec(s, len, why, why_len))
			return -1;
		*addr = xstrndup(s, len);
		if (name)
			*name = NULL;
		return 0;
	}
	if (!name)
		return fail(why, why_len, "expected a bare address, without a name or <>");
	const char *gt = memchr(lt, '>', len - (size_t)(lt - s));
	if (!gt || gt != s + len - 1)
		return fail(why, why_len, "an address in <> must end the value");
	const char *n = s;
	size_t nlen = (size_t)(lt - s);
	trim(&n, &nlen);
	if (nlen >= 2 && n[0] == '"' && n[nlen - 1] == '"')
		n++, nlen -= 2;
	if (memchr(n, '"', nlen) || memchr(n, '\\', nlen) || memchr(n, '<', nlen) ||
	    memchr(n, '>', nlen))
		return fail(why, why_len, "a display name may not contain quotes, \\, < or >");
	if (nlen > 64)
		return fail(why, why_len, "a display name may be 64 bytes at most");
	for (size_t i = 0, k; i < nlen; i += k)
		if (!(k = utf8_len((const unsigned char *)n + i, nlen - i)))
			return fail(why, why_len, "a display name must be UTF-8");
	if (check_addr_spec(lt + 1, (size_t)(gt - lt - 1), why, why_len))
		return -1;
	*addr = xstrndup(lt + 1, (size_t)(gt - lt - 1));
	*name = nlen ? xstrndup(n, nlen) : NULL;
	return 0;
}

int mail_parse_address(const char *s, char **addr, char **name, char *why, size_t why_len)
{
	return parse_address(s, strlen(s), addr, name, why, why_len);
}

int mail_parse_address_list(const char *s, struct mail_addrs *out, char *why, size_t why_len)
{
	struct mail_addrs a = { NULL, 0 };
	const char *p = s;
	for (;;) {
		size_t len = strcspn(p, ",");
		const char *item = p;
		size_t ilen = len;
		trim(&item, &ilen);
		if (ilen) {
			char *addr;
			char item_why[128];
			if (parse_address(item, ilen, &addr, NULL, item_why, sizeof(item_why))) {
				fail(why, why_len, "address %zu: %s", a.n + 1, item_why);
				mail_addrs_release(&a);
				return -1;
			}
			a.addr = xrealloc(a.addr, (a.n + 1) * sizeof(*a.addr));
			a.addr[a.n++] = addr;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	if (!a.n)
		return fail(why, why_len, "no address");
	*out = a;
	return 0;
}

void mail_addrs_release(struct mail_addrs *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->addr[i]);
	free(a->addr);
	a->addr = NULL;
	a->n = 0;
}

/* ---------------------------------------------------------------- encodings */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of len bytes, no line breaks. */
static void add_b64_run(struct buf *out, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		buf_addch(out, b64_alphabet[v >> 18 & 63]);
		buf_addch(out, b64_alphabet[v >> 12 & 63]);
		buf_addch(out, i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=');
		buf_addch(out, i + 2 < len ? b64_alphabet[v & 63] : '=');
	}
}

void mail_add_base64(struct buf *out, const void *data, size_t len)
{
	/* 57 bytes are 76 characters. */
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i += 57) {
		add_b64_run(out, p + i, len - i < 57 ? len - i : 57);
		buf_add(out, "\r\n", 2);
	}
}

static const char hex_upper[] = "0123456789ABCDEF";

void mail_add_qp(struct buf *out, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;
	while (i < len) {
		size_t eol = i;
		while (eol < len && p[eol] != '\r' && p[eol] != '\n')
			eol++;
		unsigned col = 0;
		for (size_t j = i; j < eol; j++) {
			unsigned char c = p[j];
			/* Whitespace at the end of a line is removed by transports:
			 * encode it. A leading dot stays literal: libcurl dot-stuffs
			 * it, which the CRLF line ends make reliable. */
			bool literal = (c >= 33 && c <= 126 && c != '=') ||
				       ((c == ' ' || c == '\t') && j + 1 < eol);
			unsigned width = literal ? 1 : 3;
			/* Room for the token, plus a soft break's "=" unless this
			 * token ends the line. */
			unsigned limit = j + 1 == eol ? LINE_MAX_CHARS : LINE_MAX_CHARS - 1;
			if (col + width > limit) {
				buf_add(out, "=\r\n", 3);
				col = 0;
			}
			if (literal) {
				buf_addch(out, (char)c);
			} else {
				buf_addch(out, '=');
				buf_addch(out, hex_upper[c >> 4]);
				buf_addch(out, hex_upper[c & 15]);
			}
			col += width;
		}
		if (eol == len) {
			/* No line end in the input: a soft break ends the part
			 * without adding one. */
			buf_add(out, "=\r\n", 3);
			break;
		}
		buf_add(out, "\r\n", 2);
		i = eol + (p[eol] == '\r' && eol + 1 < len && p[eol + 1] == '\n' ? 2 : 1);
	}
}

/* The value with control characters as spaces and invalid UTF-8 as U+FFFD. */
static void sanitize_text(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(p + i, len - i);
		if (!n) {
			buf_adds(out, "\xef\xbf\xbd");
			i++;
		} else if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
			buf_addch(out, ' ');
			i++;
		} else {
			buf_add(out, p + i, n);
			i += n;
		}
	}
}

/* Plain when printable ASCII that no decoder could mistake for an encoded
 * word, and foldable: no run without spaces too long for one line. */
static bool can_stay_plain(const char *s, size_t max_word)
{
	size_t word = 0;
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return false;
		if (p[0] == '=' && p[1] == '?')
			return false;
		word = *p == ' ' ? 0 : word + 1;
		if (word > max_word)
			return false;
	}
	return true;
}

/* Fold before a space, so unfolding (removing the CRLF) gives the value back
 * byte for byte. A fold never leaves a line of only white space. */
static void add_plain_folded(struct buf *out, const char *s, unsigned col)
{
	const char *p = s;
	while (*p) {
		/* a token: its leading spaces and the word after them */
		const char *word = p, *end;
		while (*word == ' ')
			word++;
		end = word;
		while (*end && *end != ' ')
			end++;
		unsigned width = (unsigned)(end - p);
		if (p != s && word > p && end > word && col + width > LINE_MAX_CHARS) {
			buf_add(out, "\r\n", 2);
			col = 0;
		}
		buf_add(out, p, width);
		col += width;
		p = end;
	}
}

/* RFC 2047 B encoded words of whole UTF-8 characters, separated by folds
 * (white space between encoded words is not part of the text). col is where
 * the first word's leading space goes; returns the column after the last. */
static unsigned add_encoded_words(struct buf *out, const char *s, unsigned col)
{
	static const char prefix[] = "=?UTF-8?B?";
	const unsigned overhead = sizeof(prefix) - 1 + 2; /* and "?=" */
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;
	bool fold = false;
	do {
		unsigned used = fold ? 0 : col;
		/* 4 characters for every 3 bytes; a fresh line holds 45 bytes. */
		size_t max_bytes = used + 1 + overhead < LINE_MAX_CHARS
					   ? (LINE_MAX_CHARS - used - 1 - overhead) / 4 * 3
					   : 0;
		if (max_bytes < 4 && !fold) {
			fold = true;
			continue;
		}
		size_t take = 0;
		while (i + take < len) {
			size_t n = utf8_len(p + i + take, len - i - take);
			if (!n)
				n = 1; /* callers sanitize; this only guarantees progress */
			if (take + n > max_bytes)
				break;
			take += n;
		}
		if (fold)
			buf_add(out, "\r\n", 2);
		buf_addch(out, ' ');
		buf_adds(out, prefix);
		add_b64_run(out, p + i, take);
		buf_add(out, "?=", 2);
		col = 1 + overhead + (unsigned)((take + 2) / 3 * 4);
		i += take;
		fold = true;
	} while (i < len);
	return col;
}

static void add_header_value(struct buf *out, unsigned col, const char *value)
{
	struct buf clean = BUF_INIT;
	sanitize_text(&clean, value);
	const char *v = buf_str(&clean);
	/* Encoded words make any text foldable; plain words need to fit. */
	if (can_stay_plain(v, LINE_MAX_CHARS - 1 - col)) {
		buf_addch(out, ' ');
		add_plain_folded(out, v, col + 1);
	} else {
		add_encoded_words(out, v, col);
	}
	buf_release(&clean);
}

void mail_add_header_text(struct buf *out, const char *name, const char *value)
{
	buf_adds(out, name);
	buf_addch(out, ':');
	add_header_value(out, (unsigned)strlen(name) + 1, value);
	buf_add(out, "\r\n", 2);
}

static const char *const weekdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Names spelled out here: strftime's %a and %b follow the locale. */
void mail_format_date(double wall, char *out, size_t out_len)
{
	time_t t = (time_t)wall;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, out_len, "%s, %02d %s %04d %02d:%02d:%02d +0000", weekdays[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

/* ----------------------------------------------------------------- messages */

/* Characters a display name may show without quoting (atext and spaces). */
static bool is_plain_phrase(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!is_atext((unsigned char)*p) && *p != ' ')
			return false;
	return true;
}

static void add_from(struct buf *out, const struct mail_envelope *env)
{
	buf_adds(out, "From:");
	unsigned col = 5;
	if (env->from_name) {
		const char *n = env->from_name;
		bool ascii = true;
		for (const char *p = n; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				ascii = false;
		size_t start = out->len;
		if (ascii && is_plain_phrase(n))
			buf_addf(out, " %s", n);
		else if (ascii) /* parse_address kept quotes and backslashes out */
			buf_addf(out, " \"%s\"", n);
		if (ascii)
			col += (unsigned)(out->len - start);
		else
			col = add_encoded_words(out, n, col);
		unsigned width = (unsigned)strlen(env->from) + 3;
		buf_addf(out, "%s<%s>\r\n", col + width > LINE_MAX_CHARS ? "\r\n " : " ",
			 env->from);
		return;
	}
	buf_addf(out, " %s\r\n", env->from);
}

static void add_to(struct buf *out, const struct mail_addrs *to)
{
	buf_adds(out, "To:");
	unsigned col = 3;
	for (size_t i = 0; i < to->n; i++) {
		unsigned width = (unsigned)strlen(to->addr[i]) + 1 + (i + 1 < to->n);
		if (i && col + width > LINE_MAX_CHARS) {
			buf_add(out, "\r\n", 2);
			col = 0;
		}
		buf_addf(out, " %s%s", to->addr[i], i + 1 < to->n ? "," : "");
		col += width;
	}
	buf_add(out, "\r\n", 2);
}

static bool printable_ascii(const char *s, size_t max)
{
	size_t n = 0;
	for (const char *p = s; *p; p++, n++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return false;
	return n > 0 && n <= max;
}

/* RFC 2231 attr-char: what may stand unencoded in filename*=. */
static bool is_attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$&+-.^_`|~", c));
}

static int add_attachment(struct buf *out, const struct mail_attachment *a, char *why,
			  size_t why_len)
{
	const char *type = a->content_type ? a->content_type : "application/octet-stream";
	if (!printable_ascii(type, 200) || !strchr(type, '/'))
		return fail(why, why_len, "attachment content type is not printable ASCII");
	const char *name = a->filename ? a->filename : "";
	size_t nlen = strlen(name);
	if (!nlen || nlen > 200)
		return fail(why, why_len, "attachment file name must be 1 to 200 bytes");
	for (size_t i = 0; i < nlen;) {
		size_t n = utf8_len((const unsigned char *)name + i, nlen - i);
		if (!n || (n == 1 && ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)))
			return fail(why, why_len, "attachment file name is not printable UTF-8");
		i += n;
	}
	buf_addf(out, "Content-Type: %s\r\n", type);
	buf_adds(out, "Content-Disposition: attachment;\r\n filename");
	if (printable_ascii(name, 60) && !strpbrk(name, "\"\\")) {
		buf_addf(out, "=\"%s\"\r\n", name);
	} else {
		buf_adds(out, "*=UTF-8''");
		for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
			if (is_attr_char(*p))
				buf_addch(out, (char)*p);
			else
				buf_addf(out, "%%%c%c", hex_upper[*p >> 4], hex_upper[*p & 15]);
		}
		buf_add(out, "\r\n", 2);
	}
	buf_adds(out, "Content-Transfer-Encoding: base64\r\n\r\n");
	mail_add_base64(out, a->data, a->len);
	return 0;
}

static void add_text_part_headers(struct buf *out)
{
	buf_adds(out, "Content-Type: text/plain; charset=utf-8\r\n"
		      "Content-Transfer-Encoding: quoted-printable\r\n");
}

int mail_build(struct buf *out, const struct mail_envelope *env, const struct mail_message *msg,
	       char *why, size_t why_len)
{
	char date[40];
	mail_format_date(env->date, date, sizeof(date));
	buf_addf(out, "Date: %s\r\n", date);
	add_from(out, env);
	add_to(out, env->to);
	mail_add_header_text(out, "Subject", msg->subject ? msg->subject : "");
	buf_addf(out, "Message-ID: %s\r\n", env->message_id);
	/* RFC 3834: no vacation auto-replies to a robot. */
	buf_adds(out, "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n");
	const char *body = msg->body ? msg->body : "";
	if (!msg->n_attachments) {
		add_text_part_headers(out);
		buf_add(out, "\r\n", 2);
		mail_add_qp(out, body, strlen(body));
		return 0;
	}
	/* The CRLF before each delimiter belongs to it (RFC 2046 §5.1.1), so
	 * every part keeps its own last line end. The boundary cannot occur in
	 * the parts: "=_" is never quoted-printable or base64 output. */
	buf_addf(out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n", env->boundary);
	buf_addf(out, "This is a multi-part message in MIME format.\r\n--%s\r\n", env->boundary);
	add_text_part_headers(out);
	buf_add(out, "\r\n", 2);
	mail_add_qp(out, body, strlen(body));
	for (size_t i = 0; i < msg->n_attachments; i++) {
		buf_addf(out, "\r\n--%s\r\n", env->boundary);
		if (add_attachment(out, &msg->attachments[i], why, why_len))
			return -1;
	}
	buf_addf(out, "\r\n--%s--\r\n", env->boundary);
	return 0;
}
