/*
 * Unit tests for lib/http: the pure helpers (dates, Retry-After, backoff,
 * classes, escaping, JSON errors) and the retry loop's offline paths
 * (refused connections, bad URLs, hooks) that need no server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ctype.h>

#include "clock.h"
#include "deadline.h"
#include "http.h"
#include "http_internal.h"
#include "log.h"
#include "redact.h"
#include "xalloc.h"

#define IMF_1994 784111777.0 /* Sun, 06 Nov 1994 08:49:37 GMT */

/* ------------------------------------------------------------ dates */

static void test_parse_date_three_formats(void **state)
{
	(void)state;
	assert_true(http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT") == IMF_1994);
	assert_true(http_parse_date("Sunday, 06-Nov-94 08:49:37 GMT") == IMF_1994);
	assert_true(http_parse_date("Sun Nov  6 08:49:37 1994") == IMF_1994);
	assert_true(http_parse_date("Mon, 23 Nov 2026 09:15:31 GMT") == 1795425331.0);
	assert_true(http_parse_date("  Thu, 29 Feb 2024 12:00:00 GMT\r\n") == 1709208000.0);
	assert_true(http_parse_date("Thu Feb 29 12:00:00 2024") == 1709208000.0);
	assert_true(http_parse_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0.0);
	/* Past 2038 and the last second of a leap day. */
	assert_true(http_parse_date("Sat, 01 Jan 2050 00:00:00 GMT") == 2524608000.0);
	assert_true(http_parse_date("Sat, 29 Feb 2020 23:59:59 GMT") == 1583020799.0);
	assert_true(http_parse_date("Saturday, 29-Feb-20 23:59:59 GMT") == 1583020799.0);
	assert_true(http_parse_date("Sat Feb 29 23:59:59 2020") == 1583020799.0);
	assert_true(http_parse_date("Tue Nov 10 08:49:37 1998") == 910687777.0);
}

static void test_parse_date_two_digit_years(void **state)
{
	(void)state;
	assert_true(http_parse_date("Friday, 01-Jan-27 00:00:00 GMT") == 1798761600.0);
	assert_true(http_parse_date("Friday, 31-Dec-99 23:59:59 GMT") == 946684799.0);
}

static void test_parse_date_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "   ", "garbage", "120", "-1",
		"Sun, 06 Nov 1994 08:49:37 UTC",     /* only GMT */
		"Sun, 06 Nov 1994 08:49:37",         /* no zone */
		"Sun, 6 Nov 1994 08:49:37 GMT",      /* day needs two digits */
		"Sun, 06 Nov 94 08:49:37 GMT",       /* four-digit year */
		"Sun, 06 Foo 1994 08:49:37 GMT",     /* month */
		"Xyz, 06 Nov 1994 08:49:37 GMT",     /* weekday */
		"Sun, 31 Feb 2023 08:49:37 GMT",     /* no such day */
		"Wed, 29 Feb 2023 08:49:37 GMT",     /* not a leap year */
		"Sun, 06 Nov 1994 24:00:00 GMT",     /* hour */
		"Sun, 06 Nov 1994 08:60:00 GMT",     /* minute */
		"Sun, 06 Nov 1994 08:49:37 GMTx",    /* trailing junk */
		"Sun, 06 Nov 1994 8:49:37 GMT",      /* hour needs two digits */
		"Sunday, 06-Nov-1994 08:49:37 GMT",  /* RFC 850 has two-digit years */
		"Sun Nov  6 08:49:37 94",            /* asctime has four */
		"2026-11-23T09:15:31Z",              /* ISO 8601 is not an HTTP date */
		"Mon, 06 Nov 1994 08:49:37 GMT",     /* 6 Nov 1994 was a Sunday */
		"Sunday, 06-Nov-94 08:49:37 UTC",    /* RFC 850 also only GMT */
		"Sun, 06 Nov 1994 08:49:37 +0000",   /* no numeric zones */
		"Sun, 06 nov 1994 08:49:37 GMT",     /* month names are case-sensitive */
		"06 Nov 1994 08:49:37 GMT",          /* no weekday */
		"Sun, 06 Nov 1994 08:49 GMT",        /* no seconds */
		"Sun, 06 Nov 1994 08:49:37 GMT GMT", /* trailing junk */
		"Sun Nov 06 08:49:37 1994",          /* asctime pads the day with a space */
		"Sun Nov 6 08:49:37 1994",           /* with one */
		"Wed, 31 Dec 1969 23:59:59 GMT",     /* before 1970 */
		"Tue, 30 Apr 2024 12:00:00 PST",     /* other zones */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (http_parse_date(bad[i]) != -1)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_true(http_parse_date(NULL) == -1);
}

/* ------------------------------------------------------ Retry-After */

static void test_retry_after_seconds(void **state)
{
	(void)state;
	assert_true(http_parse_retry_after("120", 0) == 120);
	assert_true(http_parse_retry_after("0", 0) == 0);
	assert_true(http_parse_retry_after(" 5 ", 0) == 5);
	assert_true(http_parse_retry_after("1.5", 0) == 1.5);
	assert_true(http_parse_retry_after("86400", IMF_1994) == 86400);
}

static void test_retry_after_dates(void **state)
{
	(void)state;
	double now = IMF_1994 - 30;
	assert_true(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 30);
	assert_true(http_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now) == 30);
	assert_true(http_parse_retry_after("Sun Nov  6 08:49:37 1994", now) == 30);
	/* Sub-second now: the wait is not rounded. */
	assert_true(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", IMF_1994 - 0.25) == 0.25);
}

static void test_retry_after_past_date_is_now(void **state)
{
	(void)state;
	assert_true(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", IMF_1994 + 100) == 0);
	assert_true(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", IMF_1994) == 0);
}

static void test_retry_after_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", " ", "-5", "-0", "+5", "5s", "1e3", "0x10", "inf", "nan", "abc", "1.", ".5",
		"1.2.3", "5 6", "Sun, 06 Nov 1994 08:49:37", "tomorrow",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (http_parse_retry_after(bad[i], IMF_1994) != -1)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_true(http_parse_retry_after(NULL, 0) == -1);
}

/* ---------------------------------------------------------- backoff */

static void test_backoff_bounds(void **state)
{
	(void)state;
	for (int attempt = 1; attempt <= 12; attempt++) {
		double ceiling = attempt <= 7 ? (double)(1 << (attempt - 1)) : 60;
		for (double r = 0; r < 1; r += 0.125) {
			double d = http_backoff_delay(attempt, 1, 60, r);
			assert_true(d >= 0);
			assert_true(d < ceiling || (d == 0 && ceiling == 0));
			assert_true(d <= 60);
		}
	}
	assert_true(http_backoff_delay(1, 1, 60, 0) == 0);
}

static void test_backoff_growth_and_jitter(void **state)
{
	(void)state;
	/* Full jitter: the delay is rand01 times the ceiling, so it is linear
	 * in rand01 and the ceiling doubles per attempt. */
	assert_true(http_backoff_delay(1, 1, 60, 0.5) == 0.5);
	assert_true(http_backoff_delay(2, 1, 60, 0.5) == 1.0);
	assert_true(http_backoff_delay(3, 1, 60, 0.5) == 2.0);
	assert_true(http_backoff_delay(4, 1, 60, 0.5) == 4.0);
	assert_true(http_backoff_delay(3, 0.25, 60, 0.5) == 0.5);
	assert_true(http_backoff_delay(3, 1, 60, 0.25) == 1.0);
	assert_true(http_backoff_delay(3, 1, 60, 0.75) == 3.0);
}

static void test_backoff_cap_and_edges(void **state)
{
	(void)state;
	assert_true(http_backoff_delay(7, 1, 60, 0.5) == 30);  /* 64 capped to 60 */
	assert_true(http_backoff_delay(50, 1, 60, 0.5) == 30);
	assert_true(http_backoff_delay(5000, 1, 60, 0.5) == 30); /* no overflow */
	assert_true(http_backoff_delay(0, 1, 60, 0.5) == 0.5);  /* attempt < 1 is the first */
	assert_true(http_backoff_delay(-3, 1, 60, 0.5) == 0.5);
	assert_true(http_backoff_delay(3, 0, 60, 0.5) == 0);
	assert_true(http_backoff_delay(3, 1, 0, 0.5) == 0);
	assert_true(http_backoff_delay(3, 1, 60, 1.0) < 4.0);  /* rand01 stays below 1 */
	assert_true(http_backoff_delay(3, 1, 60, -1) == 0);
}

/* ----------------------------------------------------------- classes */

static void test_default_class(void **state)
{
	(void)state;
	static const struct {
		long status;
		enum http_class class;
	} cases[] = {
		{ 200, HTTP_CLASS_OK },      { 204, HTTP_CLASS_OK },
		{ 301, HTTP_CLASS_OK },      { 304, HTTP_CLASS_OK },
		{ 400, HTTP_CLASS_OK },      { 401, HTTP_CLASS_OK },
		{ 403, HTTP_CLASS_OK },      { 404, HTTP_CLASS_OK },
		{ 408, HTTP_CLASS_RETRY },   { 420, HTTP_CLASS_RATE_LIMITED },
		{ 429, HTTP_CLASS_RATE_LIMITED }, { 500, HTTP_CLASS_RETRY },
		{ 502, HTTP_CLASS_RETRY },   { 503, HTTP_CLASS_RETRY },
		{ 504, HTTP_CLASS_RETRY },   { 0, HTTP_CLASS_RETRY },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (http_default_class(cases[i].status) != cases[i].class)
			fail_msg("status %ld: class %d, want %d", cases[i].status,
				 http_default_class(cases[i].status), cases[i].class);
	}
}

/* -------------------------------------------------------------- URLs */

static void check_url(const char *base, const char *const *segs, const char *const *params,
		      const char *encoded, const char *want)
{
	char *got = http_url_build(base, segs, params, encoded);
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	/* libcurl's hex digits are lowercase in some versions, uppercase in others. */
	for (char *p = got; *p; p++)
		if (*p == '%' && p[1] && p[2])
			p[1] = (char)toupper((unsigned char)p[1]), p[2] = (char)toupper((unsigned char)p[2]);
	assert_string_equal(got, want);
	free(got);
}

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_url_build(void **state)
{
	(void)state;
	/* The ComicVine shapes: a trailing slash from the empty last segment. */
	check_url("https://cv.example/api", L("volumes", ""), L("api_key", "k", "format", "json"),
		  "filter=id:1%7C2", "https://cv.example/api/volumes/?api_key=k&format=json&filter=id:1%7C2");
	check_url("http://127.0.0.1:8080/api/", L("volume", "4050-1", ""), NULL, NULL,
		  "http://127.0.0.1:8080/api/volume/4050-1/");
	/* Values are escaped: reserved characters, '|', spaces, UTF-8, '%'. */
	check_url("https://h.example", NULL, L("filter", "id:1|2|3", "q", "a b&c=d#e+f", "u", "caf\xc3\xa9%"),
		  NULL,
		  "https://h.example/?filter=id%3A1%7C2%7C3&q=a+b%26c%3Dd%23e%2Bf&u=caf%C3%A9%25");
	/* A segment is one segment: '/' and '?' inside it are escaped. */
	check_url("https://h.example/base", L("a/b", "c?d", "e f"), NULL, NULL,
		  "https://h.example/base/a%2Fb/c%3Fd/e%20f");
	check_url("https://h.example", NULL, L("empty", ""), NULL, "https://h.example/?empty=");
	check_url("https://h.example", NULL, NULL, NULL, "https://h.example/");
	/* Not a URL. */
	check_url("not a url", L("x"), NULL, NULL, NULL);
	check_url("", NULL, NULL, NULL, NULL);
}

/* -------------------------------------------------------------- JSON */

static void fake_response(struct http_response *r, long status, const char *ct, const char *body)
{
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->content_type = ct ? xstrdup(ct) : NULL;
	r->body = xstrdup(body);
	r->body_len = strlen(body);
	r->retry_after_s = -1;
}

static void test_json_ok(void **state)
{
	(void)state;
	struct http_response r;
	fake_response(&r, 200, "application/json; charset=utf-8", "{\"ok\":true,\"n\":3}");
	json_t *doc = NULL;
	char err[256] = "unchanged";
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), 0);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "n")), 3);
	json_decref(doc);
	http_response_release(&r);
}

static void test_json_html_page(void **state)
{
	(void)state;
	struct http_response r;
	fake_response(&r, 403, "text/html; charset=utf-8",
		      "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
		      "<title>Access denied</title></head>\n<body><h1>Access denied</h1>"
		      "<p>You don't have permission to access this resource.</p></body></html>\n");
	json_t *doc = (json_t *)&r; /* must be reset to NULL */
	char err[512];
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	assert_null(doc);
	assert_string_equal(err, "expected JSON, got text/html (HTTP 403, title \"Access denied\"): "
				 "\"<!DOCTYPE html> <html lang=\\\"en\\\"> <head><meta "
				 "charset=\\\"utf-8\\\"...\"");
	http_response_release(&r);
}

static void test_json_not_json(void **state)
{
	(void)state;
	struct http_response r;
	fake_response(&r, 200, "application/json", "this is not json");
	json_t *doc = NULL;
	char err[512];
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	assert_null(doc);
	assert_string_equal(err, "invalid JSON (HTTP 200, application/json) at line 1 column 4: "
				 "\"this is not json\"");
	http_response_release(&r);

	fake_response(&r, 502, "text/plain", "502 Bad Gateway\n");
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	assert_string_equal(err, "expected JSON, got text/plain (HTTP 502): \"502 Bad Gateway\"");
	http_response_release(&r);

	fake_response(&r, 200, NULL, "nope");
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	assert_string_equal(err, "expected JSON, got no content type (HTTP 200): \"nope\"");
	http_response_release(&r);
}

static void test_json_empty_body(void **state)
{
	(void)state;
	struct http_response r;
	fake_response(&r, 200, "application/json", "");
	json_t *doc = NULL;
	char err[128];
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	assert_string_equal(err, "empty body (HTTP 200)");
	http_response_release(&r);

	/* A released (zeroed) response has no body at all. */
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	assert_string_equal(err, "empty body (HTTP 0)");
}

static void test_json_snippet_sanitized(void **state)
{
	(void)state;
	struct http_response r;
	fake_response(&r, 500, "text/plain", "\x01\x7f\"q\\\tcaf\xc3\xa9\r\n\n end");
	json_t *doc = NULL;
	char err[256];
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	assert_string_equal(err, "expected JSON, got text/plain (HTTP 500): \"??\\\"q\\\\ caf?? end\"");
	http_response_release(&r);

	/* At most 60 bytes of body, then an ellipsis. */
	char big[200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fake_response(&r, 200, "text/plain", big);
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	const char *q = strchr(err, '"');
	assert_non_null(q);
	assert_int_equal(strlen(q), 1 + 60 + 3 + 1);
	http_response_release(&r);

	/* A small error buffer truncates instead of overflowing. */
	fake_response(&r, 200, "text/plain", "abc");
	char tiny[8];
	assert_int_equal(http_response_json(&r, &doc, tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "expecte");
	http_response_release(&r);
}

static void test_json_error_redacts_secrets(void **state)
{
	(void)state;
	redact_add("sekrit-api-key-42");
	struct http_response r;
	fake_response(&r, 401, "text/html", "<p>bad key sekrit-api-key-42</p>");
	json_t *doc = NULL;
	char err[256];
	assert_int_equal(http_response_json(&r, &doc, err, sizeof(err)), -1);
	assert_null(strstr(err, "sekrit"));
	assert_non_null(strstr(err, REDACTED));
	http_response_release(&r);
	redact_clear();
}

static void test_response_header_lookup(void **state)
{
	(void)state;
	struct http_header h[] = {
		{ "Content-Type", "application/json" },
		{ "Retry-After", "5" },
		{ "retry-after", "7" },
	};
	struct http_response r = { .headers = h, .n_headers = 3 };
	assert_string_equal(http_response_header(&r, "content-type"), "application/json");
	assert_string_equal(http_response_header(&r, "RETRY-AFTER"), "7");
	assert_null(http_response_header(&r, "X-Missing"));
}

/* ------------------------------------------- the retry loop, offline */

static struct http_config fast_config(int attempts)
{
	return (struct http_config){
		.connect_timeout_s = 2,
		.timeout_s = 2,
		.max_attempts = attempts,
		.backoff_base_s = 0.001,
		.backoff_cap_s = 0.01,
	};
}

static void test_send_refused_gives_up(void **state)
{
	(void)state;
	struct http_config cfg = fast_config(3);
	struct http_client *c = http_client_new(&cfg, NULL);
	/* Port 1 on loopback: nothing listens, the connect is refused at once. */
	struct http_request req = {
		.url = "http://127.0.0.1:1/volumes/?api_key=unit-secret-key&limit=5",
		.userpwd = "user:unit-password",
	};
	struct http_response resp;
	assert_int_equal(http_send(c, &req, &resp), -1);
	assert_int_equal(resp.outcome, HTTP_GAVE_UP);
	assert_int_equal(resp.attempts, 3);
	assert_int_equal(http_client_attempts(c), 3);
	assert_int_equal(resp.status, 0);
	assert_true(strncmp(resp.error, "GET /volumes/: gave up after 3 attempts: could not connect",
			    58) == 0);
	assert_null(strstr(resp.error, "unit-secret-key"));
	/* Both secrets were registered for every later message. */
	char *s = redact_string("unit-secret-key unit-password");
	assert_string_equal(s, REDACTED " " REDACTED);
	free(s);
	http_response_release(&resp);
	http_client_free(c);
	redact_clear();
}

static void test_send_bad_url_not_retried(void **state)
{
	(void)state;
	struct http_config cfg = fast_config(5);
	struct http_client *c = http_client_new(&cfg, NULL);
	struct http_request req = { .url = "gopher://127.0.0.1/x", .label = "GET thing" };
	struct http_response resp;
	assert_int_equal(http_send(c, &req, &resp), -1);
	assert_int_equal(resp.outcome, HTTP_GAVE_UP);
	assert_int_equal(resp.class, HTTP_CLASS_FATAL);
	assert_int_equal(resp.attempts, 1);
	assert_true(strncmp(resp.error, "GET thing: request failed (curl: ", 33) == 0);
	http_response_release(&resp);
	http_client_free(c);
}

struct hook_state {
	int calls;
	int deny_after;
};

static int deny_hook(void *ctx, const struct http_request *req, struct http_grant *g)
{
	struct hook_state *h = ctx;
	(void)req;
	if (h->calls++ < h->deny_after)
		return 0;
	g->refusal = HTTP_REFUSED_BUDGET;
	g->retry_in_s = 42;
	snprintf(g->reason, sizeof(g->reason), "budget for %s exhausted", req->bucket);
	return 1;
}

static void test_send_denied_by_hook(void **state)
{
	(void)state;
	struct hook_state hs = { .deny_after = 1 };
	struct http_hooks hooks = { .before_attempt = deny_hook, .ctx = &hs };
	struct http_config cfg = fast_config(5);
	struct http_client *c = http_client_new(&cfg, &hooks);
	struct http_request req = { .url = "http://127.0.0.1:1/x", .bucket = "/x/" };
	struct http_response resp;
	assert_int_equal(http_send(c, &req, &resp), -1);
	assert_int_equal(resp.outcome, HTTP_DENIED);
	assert_int_equal(resp.attempts, 1); /* the second was refused, never sent */
	assert_int_equal(http_client_attempts(c), 1);
	/* The refused retry reports what the attempt before it got. */
	static const char tail[] = " after 1 attempt; the retry was not sent: budget for /x/ exhausted";
	size_t len = strlen(resp.error);
	assert_true(!strncmp(resp.error, "GET /x: could not connect (curl: ", 33));
	assert_true(len > sizeof(tail) && !strcmp(resp.error + len - (sizeof(tail) - 1), tail));
	/* The refusal travels with this request, not in the client. */
	assert_int_equal(resp.refusal, HTTP_REFUSED_BUDGET);
	assert_true(resp.retry_in_s == 42);
	http_response_release(&resp);
	http_client_free(c);
}

static void test_send_all_refused(void **state)
{
	(void)state;
	struct http_config cfg = fast_config(2);
	struct http_client *c = http_client_new(&cfg, NULL);
	struct http_request reqs[5];
	struct http_response resps[5];
	for (int i = 0; i < 5; i++)
		reqs[i] = (struct http_request){ .method = "POST", .url = "http://127.0.0.1:1/p",
						 .body = "{}", .body_len = 2 };
	assert_int_equal(http_send_all(c, reqs, 5, resps, 2), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(resps[i].outcome, HTTP_GAVE_UP);
		assert_int_equal(resps[i].attempts, 2);
		assert_true(strncmp(resps[i].error, "POST /p: gave up after 2 attempts", 33) == 0);
		http_response_release(&resps[i]);
	}
	assert_int_equal(http_client_attempts(c), 10);
	assert_int_equal(http_send_all(c, reqs, 0, resps, 2), 0);
	http_client_free(c);
}

static void test_send_stopped_past_deadline(void **state)
{
	(void)state;
	struct http_config cfg = fast_config(5);
	struct http_client *c = http_client_new(&cfg, NULL);
	deadline_start(1e-9); /* already over */
	struct http_request req = { .url = "http://127.0.0.1:1/x" };
	struct http_response resp;
	assert_int_equal(http_send(c, &req, &resp), -1);
	assert_int_equal(resp.outcome, HTTP_STOPPED);
	assert_int_equal(resp.attempts, 0);
	assert_string_equal(resp.error, "GET /x: stopped (deadline) before the first attempt");
	http_response_release(&resp);
	deadline_reset();
	http_client_free(c);
}

/* ------------------------------------- the deadline, on an injected clock */

static double fake_now;

static double fake_mono(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static double fake_wall(void *ctx)
{
	(void)ctx;
	return 1.7e9 + fake_now;
}

static void fake_sleep(void *ctx, double seconds)
{
	(void)ctx;
	if (seconds > 0)
		fake_now += seconds;
}

static const struct clock_source fake_clock = { fake_mono, fake_wall, fake_sleep, NULL };

static int setup_fake_clock(void **state)
{
	(void)state;
	fake_now = 100;
	clock_override(&fake_clock);
	deadline_reset();
	return 0;
}

static int teardown_fake_clock(void **state)
{
	(void)state;
	deadline_reset();
	clock_override(NULL);
	return 0;
}

/* One attempt set up now, ended by `rc` after `later` seconds; `sent` says
 * whether the request had gone out (libcurl's pre-request callback ran). */
static enum xfer_step attempt_ending(struct http_client *c, struct http_response *resp, double later,
				     bool sent, CURLcode rc, double *wait)
{
	static const struct http_request req = { .url = "http://127.0.0.1:1/x" };
	struct xfer x;
	xfer_init(&x, c, &req, resp);
	CURL *easy = http_easy_new();
	assert_int_equal(xfer_begin(&x, easy), 0);
	fake_now += later;
	x.sends = sent;
	enum xfer_step step = xfer_end(&x, easy, rc, wait);
	xfer_release(&x);
	curl_easy_cleanup(easy);
	return step;
}

static struct http_client *deadline_client(void)
{
	struct http_config cfg = { .connect_timeout_s = 10, .timeout_s = 60, .max_attempts = 5,
				   .backoff_base_s = 1, .backoff_cap_s = 1 };
	return http_client_new(&cfg, NULL);
}

/* The attempt's timeout was clipped to the deadline; curl fired it 0.5 ms
 * before the deadline by jobrun's clock. That is the deadline (stopped), not
 * a failed attempt (gave up), and every later question agrees. */
static void test_clipped_timeout_before_deadline_is_stopped(void **state)
{
	(void)state;
	for (int sent = 0; sent <= 1; sent++) {
		struct http_client *c = deadline_client();
		deadline_start(2);
		struct http_response resp;
		double wait = -1;
		assert_int_equal(attempt_ending(c, &resp, 1.9995, sent, CURLE_OPERATION_TIMEDOUT, &wait),
				 XFER_FINAL);
		assert_int_equal(resp.outcome, HTTP_STOPPED);
		assert_int_equal(resp.attempts, 1);
		assert_true(strncmp(resp.error, "GET /x: stopped (deadline) after 1 attempt: timed out", 53) == 0);
		assert_int_equal(deadline_reason(), STOP_DEADLINE);
		assert_true(deadline_remaining() == 0);
		http_response_release(&resp);
		http_client_free(c);
		deadline_reset();
	}
}

/* By cause, not by clock: a timeout that was not the deadline's (a 10 s
 * connect timeout with 30 s left) is an ordinary failed attempt, retried. */
static void test_unclipped_timeout_is_retried(void **state)
{
	(void)state;
	struct http_client *c = deadline_client();
	deadline_start(30);
	struct http_response resp;
	double wait = -1;
	assert_int_equal(attempt_ending(c, &resp, 10, false, CURLE_OPERATION_TIMEDOUT, &wait), XFER_WAIT);
	assert_true(wait >= 0 && wait <= 1);
	assert_int_equal(deadline_reason(), STOP_NONE);
	http_response_release(&resp);
	http_client_free(c);
}

/* No time left when planning a retry is the deadline too, never gave up:
 * a retryable answer (no status from this offline handle: retry class)
 * arriving just as the deadline comes. */
static void test_no_time_left_for_a_retry_is_stopped(void **state)
{
	(void)state;
	struct http_client *c = deadline_client();
	deadline_start(30);
	struct http_response resp;
	double wait = -1;
	assert_int_equal(attempt_ending(c, &resp, 30, true, CURLE_OK, &wait), XFER_FINAL);
	assert_int_equal(resp.outcome, HTTP_STOPPED);
	assert_string_equal(resp.error, "GET /x: stopped (deadline) after 1 attempt: HTTP 0");
	http_response_release(&resp);
	http_client_free(c);
}

static void test_config_from_env(void **state)
{
	(void)state;
	struct http_config cfg;
	unsetenv("JOBRUN_USER_AGENT");
	unsetenv("JOBRUN_HTTP_TIMEOUT");
	unsetenv("JOBRUN_CONNECT_TIMEOUT");
	unsetenv("JOBRUN_HTTP_MAX_ATTEMPTS");
	assert_int_equal(http_config_from_env(&cfg), 0);
	assert_true(strncmp(cfg.user_agent, "jobrun/", 7) == 0);
	assert_true(cfg.timeout_s == 60 && cfg.connect_timeout_s == 10);
	assert_int_equal(cfg.max_attempts, 5);
	assert_true(cfg.max_response_bytes == 32u << 20);

	setenv("JOBRUN_USER_AGENT", "tester/1.0", 1);
	setenv("JOBRUN_HTTP_TIMEOUT", "1.5s", 1);
	setenv("JOBRUN_HTTP_MAX_ATTEMPTS", "2", 1);
	assert_int_equal(http_config_from_env(&cfg), 0);
	assert_string_equal(cfg.user_agent, "tester/1.0");
	assert_true(cfg.timeout_s == 1.5);
	assert_int_equal(cfg.max_attempts, 2);

	setenv("JOBRUN_HTTP_MAX_ATTEMPTS", "zero", 1);
	assert_int_equal(http_config_from_env(&cfg), -1);
	assert_non_null(strstr(error_last(), "JOBRUN_HTTP_MAX_ATTEMPTS"));
	unsetenv("JOBRUN_HTTP_MAX_ATTEMPTS");
	setenv("JOBRUN_HTTP_TIMEOUT", "soon", 1);
	assert_int_equal(http_config_from_env(&cfg), -1);
	assert_non_null(strstr(error_last(), "JOBRUN_HTTP_TIMEOUT"));
	unsetenv("JOBRUN_HTTP_TIMEOUT");
	unsetenv("JOBRUN_USER_AGENT");
	error_clear();
}

int main(void)
{
	log_setup(LOG_QUIET, true);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_date_three_formats),
		cmocka_unit_test(test_parse_date_two_digit_years),
		cmocka_unit_test(test_parse_date_rejects),
		cmocka_unit_test(test_retry_after_seconds),
		cmocka_unit_test(test_retry_after_dates),
		cmocka_unit_test(test_retry_after_past_date_is_now),
		cmocka_unit_test(test_retry_after_invalid),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_growth_and_jitter),
		cmocka_unit_test(test_backoff_cap_and_edges),
		cmocka_unit_test(test_default_class),
		cmocka_unit_test(test_url_build),
		cmocka_unit_test(test_json_ok),
		cmocka_unit_test(test_json_html_page),
		cmocka_unit_test(test_json_not_json),
		cmocka_unit_test(test_json_empty_body),
		cmocka_unit_test(test_json_snippet_sanitized),
		cmocka_unit_test(test_json_error_redacts_secrets),
		cmocka_unit_test(test_response_header_lookup),
		cmocka_unit_test(test_send_refused_gives_up),
		cmocka_unit_test(test_send_bad_url_not_retried),
		cmocka_unit_test(test_send_denied_by_hook),
		cmocka_unit_test(test_send_all_refused),
		cmocka_unit_test(test_send_stopped_past_deadline),
		cmocka_unit_test(test_config_from_env),
		cmocka_unit_test_setup_teardown(test_clipped_timeout_before_deadline_is_stopped,
						setup_fake_clock, teardown_fake_clock),
		cmocka_unit_test_setup_teardown(test_unclipped_timeout_is_retried, setup_fake_clock,
						teardown_fake_clock),
		cmocka_unit_test_setup_teardown(test_no_time_left_for_a_retry_is_stopped,
						setup_fake_clock, teardown_fake_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
