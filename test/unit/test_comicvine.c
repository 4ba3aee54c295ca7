/*
 * Unit tests for the ComicVine parsing and policy in lib/comicvine_parse.c
 * and the issue-request packing in jobs/primecache_plan.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "comicvine.h"
#include "json_text.h"
#include "log.h"
#include "primecache_internal.h"

static char *sanitize(const char *in, int *replaced)
{
	size_t len;
	return json_text_sanitize(in, strlen(in), &len, replaced);
}

static void test_sanitize_keeps_valid_json(void **state)
{
	(void)state;
	int n;
	const char *in = "{\"a\":\"caf\xC3\xA9 \\u00e9 \\\"q\\\" \\\\u0000 \\ud83d\\ude00 \xF0\x9F\x98\x80\"}";
	char *out = sanitize(in, &n);
	assert_string_equal(out, in);
	assert_int_equal(n, 0);
	free(out);
}

static void test_sanitize_replaces_what_breaks_parsers(void **state)
{
	(void)state;
	int n;
	char *out = sanitize("{\"a\":\"nul\\u0000 lone\\ud800 low\\udc00 bad\xFF\xC0\xAF end\"}", &n);
	assert_string_equal(out, "{\"a\":\"nul\\ufffd lone\\ufffd low\\ufffd bad\xEF\xBF\xBD"
				 "\xEF\xBF\xBD\xEF\xBF\xBD end\"}");
	assert_int_equal(n, 6);
	json_t *j = json_loads(out, 0, NULL);
	assert_non_null(j); /* jansson accepts the result */
	json_decref(j);
	free(out);
}

static void test_sanitize_truncated_escape(void **state)
{
	(void)state;
	int n;
	char *out = sanitize("{\"a\":\"x\\u00", &n);
	assert_string_equal(out, "{\"a\":\"x\\u00");
	free(out);
	out = sanitize("\"\\", &n);
	assert_string_equal(out, "\"\\");
	free(out);
}

static void test_envelope(void **state)
{
	(void)state;
	struct cv_page page;
	long code;
	char err[256];
	const char *ok = "{\"error\":\"OK\",\"status_code\":1,\"number_of_total_results\":345,"
			 "\"offset\":100,\"results\":[{\"id\":1}]}";
	assert_int_equal(cv_parse_envelope(ok, strlen(ok), &page, &code, err, sizeof(err)), 0);
	assert_int_equal(code, 1);
	assert_int_equal(page.total, 345);
	assert_int_equal(page.offset, 100);
	assert_int_equal(json_array_size(page.results), 1);
	cv_page_release(&page);

	const char *html = "<html><body>blocked</body></html>";
	assert_int_equal(cv_parse_envelope(html, strlen(html), &page, &code, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not JSON"));
	const char *other = "{\"ok\":true}";
	assert_int_equal(cv_parse_envelope(other, strlen(other), &page, &code, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no ComicVine envelope"));
}

/* How the client's classify hook reads an answer with HTTP 200. */
static enum http_class classify_200(const char *body)
{
	struct comicvine_config cfg = { 0 };
	struct comicvine cv;
	comicvine_init(&cv, &cfg, 1);
	struct http_hooks h = comicvine_hooks(&cv, NULL);
	struct http_request req = { .bucket = "/volumes/" };
	struct http_response resp = { .status = 200, .body = (char *)body, .body_len = strlen(body),
				      .content_type = (char *)"application/json" };
	enum http_class c = h.classify(h.ctx, &req, &resp, HTTP_CLASS_OK);
	comicvine_release(&cv);
	return c;
}

static void test_body_status_code(void **state)
{
	(void)state;
	/* The envelope's status_code, whole: not a prefix, not a record's field. */
	assert_int_equal(classify_200("{\"error\":\"x\",\"status_code\":1000,\"results\":[]}"),
			 HTTP_CLASS_OK);
	assert_int_equal(classify_200("{\"error\":\"x\",\"status_code\":1070,\"results\":[]}"),
			 HTTP_CLASS_OK);
	assert_int_equal(classify_200("{\"status_code\":1,\"results\":[{\"status_code\":107},"
				      "{\"status_code\": 100}]}"),
			 HTTP_CLASS_OK);
	assert_int_equal(classify_200("{\"error\":\"Invalid API Key\",\"status_code\":100}"),
			 HTTP_CLASS_FATAL);
	assert_int_equal(classify_200("{\"error\":\"Slow down\", \"status_code\" : 107 }"),
			 HTTP_CLASS_RATE_LIMITED);
	/* An invalid byte elsewhere does not hide the signal. */
	assert_int_equal(classify_200("{\"error\":\"bad \xFF\",\"status_code\":107,\"results\":[]}"),
			 HTTP_CLASS_RATE_LIMITED);

	const char *b = "{\"status_code\":107}";
	assert_int_equal(cv_envelope_status(b, strlen(b)), 107);
	b = "{\"status_code\":\"107\"}";
	assert_int_equal(cv_envelope_status(b, strlen(b)), -1);
	b = "[{\"status_code\":107}]";
	assert_int_equal(cv_envelope_status(b, strlen(b)), -1);
	b = "\"status_code\":107";
	assert_int_equal(cv_envelope_status(b, strlen(b)), -1);
	assert_int_equal(cv_envelope_status(NULL, 0), -1);
}

/* Results that are not what the path promises make the answer malformed. */
static void test_results_shape(void **state)
{
	(void)state;
	struct { const char *body; bool list; int want; } cases[] = {
		{ "{\"status_code\":1,\"number_of_total_results\":1,\"results\":[{\"id\":1}]}", true, 0 },
		{ "{\"status_code\":1,\"number_of_total_results\":0,\"results\":[]}", true, 0 },
		{ "{\"status_code\":1,\"number_of_total_results\":1,\"results\":\"abc\"}", true, -1 },
		{ "{\"status_code\":1,\"number_of_total_results\":1,\"results\":null}", true, -1 },
		{ "{\"status_code\":1,\"number_of_total_results\":1,\"results\":{\"id\":1}}", true, -1 },
		{ "{\"status_code\":1,\"number_of_total_results\":1}", true, -1 },
		{ "{\"status_code\":1,\"results\":[]}", true, -1 },
		{ "{\"status_code\":1,\"number_of_total_results\":\"9\",\"results\":[]}", true, -1 },
		{ "{\"status_code\":1,\"number_of_total_results\":1,\"results\":{\"id\":1}}", false, 0 },
		{ "{\"status_code\":1,\"number_of_total_results\":1,\"results\":[{\"id\":1}]}", false, -1 },
		{ "{\"status_code\":1,\"results\":\"abc\"}", false, -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cv_page page;
		long code;
		char err[256] = "";
		const char *b = cases[i].body;
		assert_int_equal(cv_parse_envelope(b, strlen(b), &page, &code, err, sizeof(err)), 0);
		int got = cv_check_results(&page, cases[i].list, err, sizeof(err));
		if (got != cases[i].want)
			fail_msg("cv_check_results(%s, list=%d) = %d, want %d", b, cases[i].list, got,
				 cases[i].want);
		if (got)
			assert_non_null(strstr(err, "malformed"));
		cv_page_release(&page);
	}
}

/* A configuration error after the ComicVine part was read frees it (the
 * leak checker at exit fails this binary otherwise). */
static void test_ping_config_error(void **state)
{
	(void)state;
	char detail[256] = "";
	setenv("COMICVINE_API_KEY", "unit-test-key", 1);
	setenv("COMICVINE_API_URL", "http://127.0.0.1:9/api", 1);
	setenv("JOBRUN_HTTP_MAX_ATTEMPTS", "0", 1);
	assert_int_equal(comicvine_ping(detail, sizeof(detail)), -1);
	assert_non_null(strstr(detail, "JOBRUN_HTTP_MAX_ATTEMPTS"));
	unsetenv("JOBRUN_HTTP_MAX_ATTEMPTS");
	unsetenv("COMICVINE_API_URL");
	unsetenv("COMICVINE_API_KEY");
}

static void test_years(void **state)
{
	(void)state;
	json_t *v;
	struct { const char *json; int want; } cases[] = {
		{ "\"1997\"", 1997 }, { "\"\"", 0 }, { "\"19x7\"", 0 }, { "null", 0 },
		{ "2004", 2004 }, { "\"12345\"", 0 }, { "\"0\"", 0 }, { "\"-197\"", 0 },
		{ "\"1799\"", 0 }, { "\"2200\"", 2200 }, { "[1]", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		if (cv_parse_year(v) != cases[i].want)
			fail_msg("cv_parse_year(%s) = %d, want %d", cases[i].json, cv_parse_year(v),
				 cases[i].want);
		json_decref(v);
	}
}

static void test_dates(void **state)
{
	(void)state;
	assert_true(cv_valid_datetime("2022-08-28 05:05:06"));
	assert_true(cv_valid_datetime("2024-02-29 23:59:59"));
	assert_false(cv_valid_datetime("2023-02-29 00:00:00"));
	assert_false(cv_valid_datetime("2022-08-28T05:05:06"));
	assert_false(cv_valid_datetime("2022-08-28 24:00:00"));
	assert_false(cv_valid_datetime("2022-08-28"));
	assert_false(cv_valid_datetime(NULL));
	assert_true(cv_valid_date("1952-10-01"));
	assert_true(cv_valid_date("2000-02-29"));
	assert_false(cv_valid_date("1900-02-29"));
	assert_false(cv_valid_date("0000-01-01"));
	assert_false(cv_valid_date("2020-13-01"));
	assert_false(cv_valid_date("2020-04-31"));
	assert_false(cv_valid_date("2020-4-01"));
}

static void test_volume_record(void **state)
{
	(void)state;
	char err[128];
	struct cv_volume v;
	json_t *rec = json_loads("{\"id\":766,\"name\":\"Single Series\",\"start_year\":\"1938\","
				 "\"publisher\":{\"id\":31,\"name\":\"Dell\"},\"count_of_issues\":28,"
				 "\"first_issue\":{\"id\":164287},\"last_issue\":null,"
				 "\"image\":{\"original_url\":\"https://x/o.jpg\"},"
				 "\"date_last_updated\":\"2022-08-28 05:05:06\",\"date_added\":\"junk\"}",
				 0, NULL);
	assert_int_equal(cv_volume_from_json(rec, &v, err, sizeof(err)), 0);
	assert_int_equal(v.id, 766);
	assert_string_equal(v.name, "Single Series");
	assert_int_equal(v.start_year, 1938);
	assert_int_equal(v.publisher_id, 31);
	assert_string_equal(v.publisher, "Dell");
	assert_int_equal(v.count_of_issues, 28);
	assert_int_equal(v.first_issue_id, 164287);
	assert_int_equal(v.last_issue_id, -1);
	assert_string_equal(v.image_url, "https://x/o.jpg");
	assert_string_equal(v.date_last_updated, "2022-08-28 05:05:06");
	assert_null(v.date_added); /* junk becomes unknown, not an error */
	json_decref(rec);

	rec = json_loads("{\"name\":\"no id\"}", 0, NULL);
	assert_int_equal(cv_volume_from_json(rec, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no valid id"));
	json_decref(rec);
	rec = json_loads("{\"id\":99999999999}", 0, NULL);
	assert_int_equal(cv_volume_from_json(rec, &v, err, sizeof(err)), -1);
	json_decref(rec);
}

static void test_issue_record(void **state)
{
	(void)state;
	char err[128];
	struct cv_issue is;
	json_t *rec = json_loads("{\"id\":6,\"volume\":{\"id\":2},\"issue_number\":\"13\","
				 "\"cover_date\":\"1952-10-01\",\"store_date\":null}",
				 0, NULL);
	assert_int_equal(cv_issue_from_json(rec, &is, err, sizeof(err)), 0);
	assert_int_equal(is.volume_id, 2);
	assert_string_equal(is.issue_number, "13");
	assert_string_equal(is.cover_date, "1952-10-01");
	assert_null(is.store_date);
	json_decref(rec);
	rec = json_loads("{\"id\":6,\"volume\":null}", 0, NULL);
	assert_int_equal(cv_issue_from_json(rec, &is, err, sizeof(err)), -1);
	json_decref(rec);
}

static void test_series_age(void **state)
{
	(void)state;
	assert_int_equal(cv_series_age(2026, 2026), CV_AGE_RECENT);
	assert_int_equal(cv_series_age(2024, 2026), CV_AGE_RECENT);
	assert_int_equal(cv_series_age(2023, 2026), CV_AGE_MIDDLE);
	assert_int_equal(cv_series_age(2017, 2026), CV_AGE_MIDDLE);
	assert_int_equal(cv_series_age(2016, 2026), CV_AGE_OLD);
	assert_int_equal(cv_series_age(0, 2026), CV_AGE_OLD);
	assert_int_equal(cv_series_age(2027, 2026), CV_AGE_RECENT);
}

static void test_refresh_jitter(void **state)
{
	(void)state;
	struct comicvine_config cfg = { .refresh_s = { 7 * 86400.0, 14 * 86400.0, 30 * 86400.0 } };
	double lo = 1e18, hi = 0, sum = 0;
	int n = 20000;
	for (long id = 1; id <= n; id++) {
		double s = cv_refresh_interval(&cfg, 2025, 2026, id);
		assert_true(s >= 0.9 * 7 * 86400 && s < 1.1 * 7 * 86400);
		lo = s < lo ? s : lo;
		hi = s > hi ? s : hi;
		sum += s;
		/* Deterministic: the same id always gets the same interval. */
		assert_true(s == cv_refresh_interval(&cfg, 2025, 2026, id));
	}
	/* Spread over the whole ±10 % band, centred on the base interval. */
	assert_true(lo < 0.91 * 7 * 86400 && hi > 1.09 * 7 * 86400);
	assert_true(sum / n > 0.99 * 7 * 86400 && sum / n < 1.01 * 7 * 86400);
	double old = cv_refresh_interval(&cfg, 0, 2026, 42);
	assert_true(old >= 27 * 86400 && old <= 33 * 86400);
}

static void test_issue_groups(void **state)
{
	(void)state;
	struct pc_issue_work w[60];
	for (int i = 0; i < 60; i++)
		w[i] = (struct pc_issue_work){ i + 1, 7, 2020 };
	/* 7 issues each: 14 volumes fill a page (98 issues). */
	assert_int_equal(pc_issue_group(w, 60), 14);
	for (int i = 0; i < 60; i++)
		w[i].count_of_issues = 1;
	assert_int_equal(pc_issue_group(w, 60), 50); /* capped at 50 volumes a request */
	w[0].count_of_issues = 250;
	assert_int_equal(pc_issue_group(w, 60), 1); /* a long series goes alone and pages */
	w[0].count_of_issues = 99;
	w[1].count_of_issues = 2;
	assert_int_equal(pc_issue_group(w, 60), 1);
	assert_int_equal(pc_issue_group(w, 0), 0);
}

int main(void)
{
	log_setup(LOG_QUIET, false);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_keeps_valid_json),
		cmocka_unit_test(test_sanitize_replaces_what_breaks_parsers),
		cmocka_unit_test(test_sanitize_truncated_escape),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_body_status_code),
		cmocka_unit_test(test_results_shape),
		cmocka_unit_test(test_ping_config_error),
		cmocka_unit_test(test_years),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_volume_record),
		cmocka_unit_test(test_issue_record),
		cmocka_unit_test(test_series_age),
		cmocka_unit_test(test_refresh_jitter),
		cmocka_unit_test(test_issue_groups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
