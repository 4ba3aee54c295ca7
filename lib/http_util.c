/*
 * The pure parts of the http layer: dates, Retry-After, backoff, status
 * classes, escaping, and turning a response into JSON or a readable error.
 * No libcurl here, so all of it is unit-tested directly.
 */
#include "http.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "redact.h"
#include "xalloc.h"

/* ---------------------------------------------------------------- headers */

const char *http_response_header(const struct http_response *resp, const char *name)
{
	/* The last one wins, as with a repeated Retry-After. */
	for (size_t i = resp->n_headers; i-- > 0;)
		if (!strcasecmp(resp->headers[i].name, name))
			return resp->headers[i].value;
	return NULL;
}

/* ------------------------------------------------------------------ dates */

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const wdays[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const wdays_long[] = {
	"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): no timegm(), no TZ environment involved. */
static long long days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* A cursor over the date text; every matcher advances it or fails. */
struct scan {
	const char *p;
	bool ok;
};

static void lit(struct scan *s, const char *text)
{
	size_t n = strlen(text);
	if (s->ok && !strncmp(s->p, text, n))
		s->p += n;
	else
		s->ok = false;
}

static int num(struct scan *s, int min_digits, int max_digits)
{
	int v = 0, n = 0;
	while (s->ok && n < max_digits && isdigit((unsigned char)*s->p)) {
		v = v * 10 + (*s->p++ - '0');
		n++;
	}
	if (n < min_digits)
		s->ok = false;
	return v;
}

static int word(struct scan *s, const char *const *names, int count)
{
	for (int i = 0; s->ok && i < count; i++) {
		size_t n = strlen(names[i]);
		if (!strncmp(s->p, names[i], n)) {
			s->p += n;
			return i;
		}
	}
	s->ok = false;
	return -1;
}

static void clock_part(struct scan *s, int *h, int *mi, int *sec)
{
	*h = num(s, 2, 2);
	lit(s, ":");
	*mi = num(s, 2, 2);
	lit(s, ":");
	*sec = num(s, 2, 2);
}

/* Sun, 06 Nov 1994 08:49:37 GMT */
static bool scan_imf(const char *v, int *y, int *mo, int *d, int *h, int *mi, int *sec)
{
	struct scan s = { v, true };
	word(&s, wdays, 7);
	lit(&s, ", ");
	*d = num(&s, 2, 2);
	lit(&s, " ");
	*mo = word(&s, months, 12) + 1;
	lit(&s, " ");
	*y = num(&s, 4, 4);
	lit(&s, " ");
	clock_part(&s, h, mi, sec);
	lit(&s, " GMT");
	return s.ok && !*s.p;
}

/* Sunday, 06-Nov-94 08:49:37 GMT */
static bool scan_rfc850(const char *v, int *y, int *mo, int *d, int *h, int *mi, int *sec)
{
	struct scan s = { v, true };
	word(&s, wdays_long, 7);
	lit(&s, ", ");
	*d = num(&s, 2, 2);
	lit(&s, "-");
	*mo = word(&s, months, 12) + 1;
	lit(&s, "-");
	*y = num(&s, 2, 2);
	lit(&s, " ");
	clock_part(&s, h, mi, sec);
	lit(&s, " GMT");
	/* Two-digit years: RFC 9110 says the nearest past century that puts
	 * the date within 50 years; in practice 70-99 are 1900s. */
	*y += *y < 70 ? 2000 : 1900;
	return s.ok && !*s.p;
}

/* Sun Nov  6 08:49:37 1994 */
static bool scan_asctime(const char *v, int *y, int *mo, int *d, int *h, int *mi, int *sec)
{
	struct scan s = { v, true };
	word(&s, wdays, 7);
	lit(&s, " ");
	*mo = word(&s, months, 12) + 1;
	lit(&s, " ");
	if (s.ok && *s.p == ' ')
		s.p++;
	*d = num(&s, 1, 2);
	lit(&s, " ");
	clock_part(&s, h, mi, sec);
	lit(&s, " ");
	*y = num(&s, 4, 4);
	return s.ok && !*s.p;
}

double http_parse_date(const char *value)
{
	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	char text[64];
	size_t len = strlen(value);
	while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
		       value[len - 1] == '\n'))
		len--;
	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, value, len);
	text[len] = '\0';

	int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
	if (!scan_imf(text, &y, &mo, &d, &h, &mi, &sec) &&
	    !scan_rfc850(text, &y, &mo, &d, &h, &mi, &sec) &&
	    !scan_asctime(text, &y, &mo, &d, &h, &mi, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	double t = (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600.0 + mi * 60.0 + sec;
	return t < 0 ? -1 : t;
}

/* ------------------------------------------------------------ Retry-After */

/* delta-seconds is 1*DIGIT; a fraction is tolerated because some servers
 * send one. Signs, exponents, hex and "inf" are not. */
static double parse_delta(const char *s, size_t len)
{
	double v = 0, scale = 0;
	size_t digits = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '.' && scale == 0 && digits) {
			scale = 1;
			continue;
		}
		if (!isdigit((unsigned char)ch))
			return -1;
		digits++;
		if (scale) {
			scale /= 10;
			v += (ch - '0') * scale;
		} else {
			v = v * 10 + (ch - '0');
		}
	}
	bool dangling_dot = len && s[len - 1] == '.';
	return digits && !dangling_dot && isfinite(v) ? v : -1;
}

double http_parse_retry_after(const char *value, double now_wall)
{
	if (!value)
		return -1;
	const char *s = value;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if (!len)
		return -1;
	if (isdigit((unsigned char)*s))
		return parse_delta(s, len);
	double when = http_parse_date(s);
	if (when < 0)
		return -1;
	/* A date already past means "now", not an error. */
	return when > now_wall ? when - now_wall : 0;
}

/* ---------------------------------------------------------------- backoff */

double http_backoff_delay(int attempt, double base, double cap, double rand01)
{
	if (attempt < 1)
		attempt = 1;
	if (!(base > 0) || !(cap > 0))
		return 0;
	if (!(rand01 >= 0))
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = nextafter(1.0, 0.0);
	/* 2^1023 already overflows any cap; clamp before ldexp to stay finite. */
	double ceiling = attempt > 1000 ? cap : ldexp(base, attempt - 1);
	if (!(ceiling <= cap))
		ceiling = cap;
	return ceiling * rand01;
}

enum http_class http_default_class(long status)
{
	if (status == 420 || status == 429)
		return HTTP_CLASS_RATE_LIMITED;
	if (status == 408 || status >= 500 || status < 200)
		return HTTP_CLASS_RETRY;
	return HTTP_CLASS_OK;
}

/* --------------------------------------------------------------- escaping */

char *http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf out = BUF_INIT;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf_addch(&out, (char)*p);
		} else {
			buf_addch(&out, '%');
			buf_addch(&out, hex[*p >> 4]);
			buf_addch(&out, hex[*p & 15]);
		}
	}
	return buf_detach(&out);
}

/* -------------------------------------------------------------------- JSON */

#define SNIPPET_BYTES 60

/* The first bytes of a body, safe to print inside double quotes: runs of
 * whitespace become one space, other control and non-ASCII bytes '?'. */
static void append_snippet(struct buf *out, const char *body, size_t len, size_t max)
{
	size_t i = 0, taken = 0;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	while (len > i && isspace((unsigned char)body[len - 1]))
		len--;
	buf_addch(out, '"');
	for (; i < len && taken < max; i++, taken++) {
		unsigned char ch = (unsigned char)body[i];
		if (isspace(ch)) {
			buf_addch(out, ' ');
			while (i + 1 < len && isspace((unsigned char)body[i + 1]))
				i++;
		} else if (ch == '"' || ch == '\\') {
			buf_addch(out, '\\');
			buf_addch(out, (char)ch);
		} else {
			buf_addch(out, ch < 0x20 || ch >= 0x7f ? '?' : (char)ch);
		}
	}
	if (i < len)
		buf_adds(out, "...");
	buf_addch(out, '"');
}

/* "text/html; charset=utf-8" -> "text/html" */
static void append_media_type(struct buf *out, const char *ct)
{
	if (!ct || !*ct) {
		buf_adds(out, "no content type");
		return;
	}
	size_t n = strcspn(ct, "; \t");
	for (size_t i = 0; i < n && i < 80; i++)
		buf_addch(out, isprint((unsigned char)ct[i]) ? ct[i] : '?');
}

/* A block page's <title> says more than its first bytes. */
static void append_html_title(struct buf *out, const char *body, size_t len)
{
	const char *open = NULL;
	for (size_t i = 0; i + 7 <= len && !open; i++)
		if (!strncasecmp(body + i, "<title>", 7))
			open = body + i + 7;
	if (!open)
		return;
	size_t rest = len - (size_t)(open - body), n = 0;
	while (n < rest && open[n] != '<')
		n++;
	buf_adds(out, ", title ");
	append_snippet(out, open, n, SNIPPET_BYTES);
}

static bool is_json_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	return (n >= 4 && !strncasecmp(ct + n - 4, "json", 4));
}

static void json_error(const struct http_response *resp, const json_error_t *jerr, char *err,
		       size_t errlen)
{
	struct buf msg = BUF_INIT;
	if (!resp->body_len) {
		buf_addf(&msg, "empty body (HTTP %ld)", resp->status);
	} else if (!is_json_type(resp->content_type)) {
		buf_adds(&msg, "expected JSON, got ");
		append_media_type(&msg, resp->content_type);
		buf_addf(&msg, " (HTTP %ld", resp->status);
		append_html_title(&msg, resp->body, resp->body_len);
		buf_adds(&msg, "): ");
		append_snippet(&msg, resp->body, resp->body_len, SNIPPET_BYTES);
	} else {
		buf_addf(&msg, "invalid JSON (HTTP %ld, ", resp->status);
		append_media_type(&msg, resp->content_type);
		buf_addf(&msg, ") at line %d column %d: ", jerr->line, jerr->column);
		append_snippet(&msg, resp->body, resp->body_len, SNIPPET_BYTES);
	}
	/* Bodies can echo the request, API key included. */
	char *safe = redact_string(buf_str(&msg));
	if (errlen)
		snprintf(err, errlen, "%s", safe);
	free(safe);
	buf_release(&msg);
}

int http_response_json(const struct http_response *resp, json_t **out, char *err, size_t errlen)
{
	json_error_t jerr;
	*out = NULL;
	if (resp->body_len && resp->body) {
		*out = json_loadb(resp->body, resp->body_len, 0, &jerr);
		if (*out)
			return 0;
	} else {
		memset(&jerr, 0, sizeof(jerr));
	}
	json_error(resp, &jerr, err, errlen);
	return -1;
}
