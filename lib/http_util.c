/*
 * The pure parts of the http layer: dates, Retry-After, backoff, status
 * classes, URLs, and turning a response into JSON or a readable error.
 * libcurl parses dates and builds URLs here, but nothing touches the network,
 * so all of it is unit-tested directly.
 */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const wdays_long[] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};

/* libcurl parses the date (curl_getdate reads all three HTTP forms, and many
 * looser ones). It is strict here by rendering the instant back in each
 * form: an HTTP date is exactly one of those renderings, so a wrong weekday,
 * 31 Feb, a one-digit day or a zone other than GMT are refused. The tables
 * above, not strftime, keep the locale out. */
static bool is_rendering(const char *text, time_t t)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm))
		return false;
	char form[3][64];
	snprintf(form[0], sizeof(form[0]), "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	snprintf(form[1], sizeof(form[1]), "%s, %02d-%s-%02d %02d:%02d:%02d GMT",
		 wdays_long[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year % 100, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
	snprintf(form[2], sizeof(form[2]), "%s %s %2d %02d:%02d:%02d %04d", wdays[tm.tm_wday],
		 months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
	return !strcmp(text, form[0]) || !strcmp(text, form[1]) || !strcmp(text, form[2]);
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
	/* -1 is also 1969-12-31 23:59:59, which no server sends as a Retry-After. */
	time_t t = curl_getdate(text, NULL);
	if (t < 0 || !is_rendering(text, t))
		return -1;
	return (double)t;
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

/* -------------------------------------------------------------------- URLs */

char *http_url_build(const char *base, const char *const *segments, const char *const *params,
		     const char *encoded_query)
{
	CURLU *u = curl_url();
	char *path = NULL, *full = NULL, *result = NULL;
	struct buf p = BUF_INIT;
	if (!u || curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	buf_adds(&p, path);
	while (p.len && p.data[p.len - 1] == '/')
		p.data[--p.len] = '\0';
	for (const char *const *seg = segments; seg && *seg; seg++) {
		/* Each segment is one: a '/' inside it is escaped too. */
		char *esc = curl_easy_escape(NULL, *seg, 0);
		if (!esc)
			goto out;
		buf_addf(&p, "/%s", esc);
		curl_free(esc);
	}
	if (curl_url_set(u, CURLUPART_PATH, p.len ? buf_str(&p) : "/", 0) != CURLUE_OK)
		goto out;
	for (const char *const *kv = params; kv && kv[0]; kv += 2) {
		/* libcurl escapes everything after the first '=', and the name. */
		char *pair = xasprintf("%s=%s", kv[0], kv[1] ? kv[1] : "");
		CURLUcode rc = curl_url_set(u, CURLUPART_QUERY, pair,
					    CURLU_APPENDQUERY | CURLU_URLENCODE);
		free(pair);
		if (rc != CURLUE_OK)
			goto out;
	}
	if (encoded_query && *encoded_query &&
	    curl_url_set(u, CURLUPART_QUERY, encoded_query, CURLU_APPENDQUERY) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK)
		result = xstrdup(full);
out:
	buf_release(&p);
	curl_free(path);
	curl_free(full);
	curl_url_cleanup(u);
	return result;
}

/* Scheme, host and port (the scheme's default when absent), lowercased by
 * libcurl; 0 on success. */
static int url_origin(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	*scheme = *host = *port = NULL;
	int ret = -1;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		ret = 0;
	curl_url_cleanup(u);
	return ret;
}

bool http_same_origin(const char *url, const char *base)
{
	char *s1, *h1, *p1, *s2, *h2, *p2;
	int a = url ? url_origin(url, &s1, &h1, &p1) : (s1 = h1 = p1 = NULL, -1);
	int b = base ? url_origin(base, &s2, &h2, &p2) : (s2 = h2 = p2 = NULL, -1);
	bool same = !a && !b && !strcasecmp(s1, s2) && !strcasecmp(h1, h2) && !strcmp(p1, p2);
	curl_free(s1), curl_free(h1), curl_free(p1);
	curl_free(s2), curl_free(h2), curl_free(p2);
	return same;
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
