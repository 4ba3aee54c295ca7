/*
 * Unit tests for the pure parts of lib/provider.c: Reset formats, the page
 * iterator's cursor/links/offset extraction and its same-origin rule, and
 * how ComicVine's descriptor classifies answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "comicvine.h"
#include "http.h"
#include "provider.h"

static void test_reset_formats(void **state)
{
	(void)state;
	double now = 1700000000;
	assert_true(provider_parse_reset("30", PROVIDER_RESET_SECONDS, now) == 30);
	assert_true(provider_parse_reset(" 2.5", PROVIDER_RESET_SECONDS, now) == 2.5);
	assert_true(provider_parse_reset("1700000042", PROVIDER_RESET_EPOCH, now) == 42);
	assert_true(provider_parse_reset("1699999000", PROVIDER_RESET_EPOCH, now) == 0);
	/* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT */
	assert_true(provider_parse_reset("Tue, 14 Nov 2023 22:14:20 GMT", PROVIDER_RESET_HTTP_DATE,
					 now) == 60);
	assert_true(provider_parse_reset("Tue, 14 Nov 2023 22:00:00 GMT", PROVIDER_RESET_HTTP_DATE,
					 now) == 0);
	assert_true(provider_parse_reset("soon", PROVIDER_RESET_SECONDS, now) == -1);
	assert_true(provider_parse_reset("-5", PROVIDER_RESET_SECONDS, now) == -1);
	assert_true(provider_parse_reset("30s", PROVIDER_RESET_SECONDS, now) == -1);
	assert_true(provider_parse_reset("30", PROVIDER_RESET_HTTP_DATE, now) == -1);
	assert_true(provider_parse_reset(NULL, PROVIDER_RESET_SECONDS, now) == -1);
	assert_true(provider_parse_reset("", PROVIDER_RESET_EPOCH, now) == -1);
}

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

static void test_pager_cursor(void **state)
{
	(void)state;
	struct provider_pager pg;
	json_t *items;
	char err[128];
	provider_pager_init(&pg, PROVIDER_PAGING_CURSOR, "resources");
	json_t *p1 = parse("{\"resources\":[{\"id\":1},{\"id\":2}],\"next_cursor\":\"abc\"}");
	assert_int_equal(provider_pager_advance(&pg, p1, "http://h/", &items, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(items), 2);
	assert_false(pg.done);
	assert_string_equal(pg.cursor, "abc");
	json_t *p2 = parse("{\"resources\":[{\"id\":3}]}");
	assert_int_equal(provider_pager_advance(&pg, p2, "http://h/", &items, err, sizeof(err)), 0);
	assert_true(pg.done);
	assert_null(pg.cursor);
	json_t *bad = parse("{\"error\":{\"message\":\"x\"}}");
	assert_int_equal(provider_pager_advance(&pg, bad, "http://h/", &items, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no 'resources' list"));
	json_decref(p1), json_decref(p2), json_decref(bad);
	provider_pager_release(&pg);
}

static void test_pager_links(void **state)
{
	(void)state;
	static const char *const last_pages[] = {
		"{\"products\":[],\"links\":{\"next\":{}}}",   /* the spec's optional_link */
		"{\"products\":[],\"links\":{\"next\":null}}",
		"{\"products\":[],\"links\":{}}",
	};
	struct provider_pager pg;
	json_t *items;
	char err[128];
	provider_pager_init(&pg, PROVIDER_PAGING_LINKS, "products");
	json_t *p1 = parse("{\"products\":[{\"id\":1}],\"links\":{\"next\":"
			   "{\"href\":\"http://127.0.0.1:8080/v2/products?page=2\"}}}");
	assert_int_equal(provider_pager_advance(&pg, p1, "http://127.0.0.1:8080/v2", &items, err,
						sizeof(err)), 0);
	assert_false(pg.done);
	assert_string_equal(pg.next_url, "http://127.0.0.1:8080/v2/products?page=2");
	for (size_t i = 0; i < sizeof(last_pages) / sizeof(last_pages[0]); i++) {
		json_t *p = parse(last_pages[i]);
		pg.done = false;
		assert_int_equal(provider_pager_advance(&pg, p, "http://127.0.0.1:8080", &items, err,
							sizeof(err)), 0);
		assert_true(pg.done);
		json_decref(p);
	}
	/* Another port, host or scheme: the key would go with the request. */
	static const char *const foreign[] = { "http://127.0.0.1:9/p?page=2", "http://evil.example:8080/p",
					       "https://127.0.0.1:8080/p" };
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "{\"products\":[],\"links\":{\"next\":{\"href\":\"%s\"}}}",
			 foreign[i]);
		json_t *p = parse(text);
		assert_int_equal(provider_pager_advance(&pg, p, "http://127.0.0.1:8080/v2", &items, err,
							sizeof(err)), -1);
		assert_true(pg.done);
		assert_non_null(strstr(err, "another host"));
		json_decref(p);
	}
	json_decref(p1);
	provider_pager_release(&pg);
}

static void test_pager_offset(void **state)
{
	(void)state;
	struct provider_pager pg;
	json_t *items;
	char err[128];
	provider_pager_init(&pg, PROVIDER_PAGING_OFFSET, "results");
	json_t *p1 = parse("{\"results\":[1,2,3],\"number_of_total_results\":5}");
	assert_int_equal(provider_pager_advance(&pg, p1, "http://h", &items, err, sizeof(err)), 0);
	assert_int_equal(pg.offset, 3);
	assert_int_equal(pg.total, 5);
	assert_false(pg.done);
	json_t *p2 = parse("{\"results\":[4,5],\"number_of_total_results\":5}");
	assert_int_equal(provider_pager_advance(&pg, p2, "http://h", &items, err, sizeof(err)), 0);
	assert_true(pg.done);
	/* An empty page ends a listing whose total was wrong. */
	provider_pager_init(&pg, PROVIDER_PAGING_OFFSET, "results");
	json_t *empty = parse("{\"results\":[],\"number_of_total_results\":500}");
	assert_int_equal(provider_pager_advance(&pg, empty, "http://h", &items, err, sizeof(err)), 0);
	assert_true(pg.done);
	json_t *no_total = parse("{\"results\":[1]}");
	assert_int_equal(provider_pager_advance(&pg, no_total, "http://h", &items, err, sizeof(err)), -1);
	json_decref(p1), json_decref(p2), json_decref(empty), json_decref(no_total);
}

static void test_same_origin(void **state)
{
	(void)state;
	assert_true(http_same_origin("http://a.example/x?y=1", "http://A.example/api"));
	assert_true(http_same_origin("https://a.example:443/x", "https://a.example/api"));
	assert_false(http_same_origin("http://a.example:81/x", "http://a.example/api"));
	assert_false(http_same_origin("https://a.example/x", "http://a.example/api"));
	assert_false(http_same_origin("not a url", "http://a.example/"));
	assert_false(http_same_origin(NULL, "http://a.example/"));
}

/* ComicVine's classify as the provider calls it: signal on the answer. */
static enum http_class cv_class(long status, const char *body, const char *ct, int *signal)
{
	struct comicvine_config cfg = { 0 };
	struct comicvine cv;
	comicvine_init(&cv, &cfg, 1);
	struct http_hooks h = provider_hooks(&cv.prov, NULL);
	struct http_request req = { .bucket = "/volume/" };
	struct http_response resp = { .status = status, .body = (char *)body,
				      .body_len = strlen(body), .content_type = (char *)ct,
				      .retry_after_s = -1, .wait_s = -1 };
	enum http_class c = h.classify(h.ctx, &req, &resp, http_default_class(status));
	*signal = resp.signal;
	comicvine_release(&cv);
	return c;
}

static void test_comicvine_classify_table(void **state)
{
	(void)state;
	static const struct {
		long status;
		const char *body, *ct;
		enum http_class cls;
		int signal;
	} rows[] = {
		{ 200, "{\"status_code\":1,\"results\":{}}", "application/json", HTTP_CLASS_OK, CV_SIG_NONE },
		{ 200, "{\"status_code\":101,\"results\":[]}", "application/json", HTTP_CLASS_OK, CV_SIG_NONE },
		{ 401, "{\"status_code\":100}", "application/json", HTTP_CLASS_FATAL, CV_SIG_BAD_KEY },
		{ 200, "{\"status_code\":107}", "application/json", HTTP_CLASS_RATE_LIMITED, CV_SIG_RATE_LIMITED },
		{ 420, "{}", "application/json", HTTP_CLASS_RATE_LIMITED, CV_SIG_RATE_LIMITED },
		{ 429, "", "text/plain", HTTP_CLASS_RATE_LIMITED, CV_SIG_RATE_LIMITED },
		{ 403, "<html>denied</html>", "text/html", HTTP_CLASS_RATE_LIMITED, CV_SIG_BLOCKED },
		{ 200, "  <html>wait</html>", "text/plain", HTTP_CLASS_RATE_LIMITED, CV_SIG_BLOCKED },
		{ 503, "oops", "text/plain", HTTP_CLASS_RETRY, CV_SIG_NONE },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int signal = -1;
		assert_int_equal(cv_class(rows[i].status, rows[i].body, rows[i].ct, &signal), rows[i].cls);
		assert_int_equal(signal, rows[i].signal);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_formats),
		cmocka_unit_test(test_pager_cursor),
		cmocka_unit_test(test_pager_links),
		cmocka_unit_test(test_pager_offset),
		cmocka_unit_test(test_same_origin),
		cmocka_unit_test(test_comicvine_classify_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
