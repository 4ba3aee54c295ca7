/*
 * Unit tests for lib/config: numbers with bounds, durations, http(s) URLs and
 * required secrets read from the environment. Every error names the variable
 * and is a configuration error (exit 78); an error about a URL never shows the
 * URL, which may carry a password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "redact.h"

#define VAR "JOBRUN_TEST_VAR"

static int setup(void **state)
{
	(void)state;
	log_setup(LOG_QUIET, false);
	unsetenv(VAR);
	error_clear();
	redact_clear();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unsetenv(VAR);
	redact_clear();
	return 0;
}

/* The last call failed with a configuration error that names VAR. */
static void assert_config_error(const char *must_not_contain)
{
	const char *msg = error_last();
	assert_non_null(msg);
	assert_int_equal(error_last_kind(), ERR_CONFIG);
	if (!strstr(msg, VAR))
		fail_msg("error does not name %s: %s", VAR, msg);
	if (must_not_contain && strstr(msg, must_not_contain))
		fail_msg("error shows '%s': %s", must_not_contain, msg);
	error_clear();
}

/* ------------------------------------------------------------ config_get */

static void test_get_unset_and_empty(void **state)
{
	(void)state;
	assert_null(config_get(VAR));
	setenv(VAR, "", 1);
	assert_null(config_get(VAR));
	setenv(VAR, "x", 1);
	assert_string_equal(config_get(VAR), "x");
}

static void test_require(void **state)
{
	(void)state;
	const char *v = "sentinel";
	assert_int_equal(config_require(VAR, &v), -1);
	assert_null(v);
	assert_config_error(NULL);
	setenv(VAR, "", 1);
	assert_int_equal(config_require(VAR, &v), -1);
	assert_config_error(NULL);
	setenv(VAR, "value", 1);
	assert_int_equal(config_require(VAR, &v), 0);
	assert_string_equal(v, "value");
	assert_null(error_last());
}

static void test_require_secret_registers_for_redaction(void **state)
{
	(void)state;
	const char *v;
	setenv(VAR, "cv-secret-key-0123456789abcdef", 1);
	assert_int_equal(config_require_secret(VAR, &v), 0);
	assert_string_equal(v, "cv-secret-key-0123456789abcdef");
	char *s = redact_string("request with cv-secret-key-0123456789abcdef failed");
	assert_string_equal(s, "request with [REDACTED] failed");
	free(s);
	/* And an error message that happens to include it is redacted too. */
	error("provider said: bad key %s", v);
	assert_null(strstr(error_last(), "cv-secret-key"));
	error_clear();
	unsetenv(VAR);
	assert_int_equal(config_require_secret(VAR, &v), -1);
	assert_config_error(NULL);
}

/* ------------------------------------------------------------ config_get_long */

static void test_long_default_when_unset(void **state)
{
	(void)state;
	long n = -1;
	assert_int_equal(config_get_long(VAR, 200, 1, 1000, &n), 0);
	assert_int_equal(n, 200);
	setenv(VAR, "", 1);
	n = -1;
	assert_int_equal(config_get_long(VAR, 7, 1, 1000, &n), 0);
	assert_int_equal(n, 7);
}

static void test_long_bounds_inclusive(void **state)
{
	(void)state;
	long n = -1;
	setenv(VAR, "1", 1);
	assert_int_equal(config_get_long(VAR, 5, 1, 100, &n), 0);
	assert_int_equal(n, 1);
	setenv(VAR, "100", 1);
	assert_int_equal(config_get_long(VAR, 5, 1, 100, &n), 0);
	assert_int_equal(n, 100);
	setenv(VAR, "42", 1);
	assert_int_equal(config_get_long(VAR, 5, 1, 100, &n), 0);
	assert_int_equal(n, 42);
	setenv(VAR, "-3", 1);
	assert_int_equal(config_get_long(VAR, 5, -10, 10, &n), 0);
	assert_int_equal(n, -3);
}

static void test_long_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"0", "101", "-1", "abc", "12abc", "1.5", "1e3", "0x10x", "",
		"99999999999999999999999", "-99999999999999999999999", "5 apples",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!bad[i][0])
			continue; /* empty means unset: the default */
		long n = 12345;
		setenv(VAR, bad[i], 1);
		if (config_get_long(VAR, 5, 1, 100, &n) != -1)
			fail_msg("'%s' was accepted as %ld", bad[i], n);
		assert_int_equal(n, 12345); /* untouched on error */
		assert_config_error(NULL);
	}
}

static void test_long_error_shows_range(void **state)
{
	(void)state;
	long n;
	setenv(VAR, "500", 1);
	assert_int_equal(config_get_long(VAR, 5, 1, 100, &n), -1);
	assert_non_null(strstr(error_last(), "1"));
	assert_non_null(strstr(error_last(), "100"));
	assert_config_error(NULL);
}

/* ------------------------------------------------------------ config_get_duration */

static void test_duration(void **state)
{
	(void)state;
	double d = -1;
	assert_int_equal(config_get_duration(VAR, 540, &d), 0);
	assert_true(d == 540);
	setenv(VAR, "90s", 1);
	assert_int_equal(config_get_duration(VAR, 540, &d), 0);
	assert_true(d == 90);
	setenv(VAR, "1h30m", 1);
	assert_int_equal(config_get_duration(VAR, 540, &d), 0);
	assert_true(d == 5400);
	setenv(VAR, "250ms", 1);
	assert_int_equal(config_get_duration(VAR, 540, &d), 0);
	assert_true(d == 0.25);
	setenv(VAR, "120", 1);
	assert_int_equal(config_get_duration(VAR, 540, &d), 0);
	assert_true(d == 120);
}

static void test_duration_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = { "9 minutes", "-5s", "soon", "1w", "36501d" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double d = 777;
		setenv(VAR, bad[i], 1);
		if (config_get_duration(VAR, 540, &d) != -1)
			fail_msg("'%s' was accepted as %g", bad[i], d);
		assert_true(d == 777);
		assert_config_error(NULL);
	}
}

/* ------------------------------------------------------------ config_get_url */

static void test_url_accepts_http_and_https(void **state)
{
	(void)state;
	char *u = NULL;
	setenv(VAR, "https://comicvine.gamespot.com/api", 1);
	assert_int_equal(config_get_url(VAR, NULL, &u), 0);
	assert_string_equal(u, "https://comicvine.gamespot.com/api");
	free(u);
	u = NULL;
	setenv(VAR, "http://127.0.0.1:8080", 1);
	assert_int_equal(config_get_url(VAR, NULL, &u), 0);
	assert_string_equal(u, "http://127.0.0.1:8080");
	free(u);
	u = NULL;
	/* Trailing slashes go, so callers can append "/volumes/". */
	setenv(VAR, "https://api.shipstation.com/v2///", 1);
	assert_int_equal(config_get_url(VAR, NULL, &u), 0);
	assert_string_equal(u, "https://api.shipstation.com/v2");
	free(u);
	u = NULL;
	setenv(VAR, "HTTPS://Example.COM/x/", 1);
	assert_int_equal(config_get_url(VAR, NULL, &u), 0);
	assert_string_equal(u, "https://Example.COM/x");
	free(u);
	assert_null(error_last());
}

static void test_url_default(void **state)
{
	(void)state;
	char *u = NULL;
	assert_int_equal(config_get_url(VAR, "https://comicvine.gamespot.com/api/", &u), 0);
	assert_string_equal(u, "https://comicvine.gamespot.com/api");
	free(u);
	u = NULL;
	assert_int_equal(config_get_url(VAR, NULL, &u), -1);
	assert_null(u);
	assert_config_error(NULL);
}

static void test_url_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"ftp://files.example.com/x",
		"file:///etc/passwd",
		"gopher://h/",
		"not a url",
		"comicvine.gamespot.com/api", /* no scheme */
		"https://",                   /* no host */
		"https://exa mple.com/",
		"javascript:alert(1)",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *u = NULL;
		setenv(VAR, bad[i], 1);
		if (config_get_url(VAR, NULL, &u) != -1) {
			print_error("'%s' was accepted as '%s'\n", bad[i], u ? u : "(null)");
			free(u);
			fail();
		}
		assert_null(u);
		assert_config_error(NULL);
	}
}

/* A rejected URL may still carry credentials: the error names the variable
 * and shows neither the password nor the rest of the value. */
static void test_url_error_never_shows_the_value(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"ftp://admin:hunter2-pw@files.example.com/x",
		"postgres://admin:hunter2-pw@db.example.com/app",
		"https://admin:hunter2-pw@",
		"https://admin:hunter2-pw@exa mple.com/",
		"smtp://admin:hunter2-pw@mail.example.com:587",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *u = NULL;
		setenv(VAR, bad[i], 1);
		assert_int_equal(config_get_url(VAR, NULL, &u), -1);
		assert_null(u);
		const char *msg = error_last();
		assert_non_null(msg);
		if (strstr(msg, "admin") || strstr(msg, "example.com"))
			fail_msg("error shows the value: %s", msg);
		assert_config_error("hunter2-pw");
	}
}

static void test_check_url(void **state)
{
	(void)state;
	assert_int_equal(config_check_url("--url", "https://h.example/x"), 0);
	assert_int_equal(config_check_url("--url", "ftp://u:pw-secret@h.example/x"), -1);
	const char *msg = error_last();
	assert_non_null(msg);
	assert_non_null(strstr(msg, "--url"));
	assert_null(strstr(msg, "pw-secret"));
	error_clear();
}

/* ---------------------------------------------------------- header values */

static void test_header_value(void **state)
{
	(void)state;
	const char *v = "stale";
	assert_int_equal(config_get_header_value(VAR, &v), 0);
	assert_null(v);
	setenv(VAR, "myapp/1.0 (+https://example.com; ops@example.com) ~!#$%&*", 1);
	assert_int_equal(config_get_header_value(VAR, &v), 0);
	assert_string_equal(v, "myapp/1.0 (+https://example.com; ops@example.com) ~!#$%&*");
	/* UTF-8 is not a control character. */
	setenv(VAR, "caf\xc3\xa9/1", 1);
	assert_int_equal(config_get_header_value(VAR, &v), 0);
}

static void test_header_value_rejects_controls(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"app/1\r\nX-Injected: 1", "app/1\nX-Injected: 1", "app/1\r", "app\t1",
		"app\x01", "app\x7f", "\x1b[31mred",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *v = "stale";
		setenv(VAR, bad[i], 1);
		if (config_get_header_value(VAR, &v) != -1)
			fail_msg("accepted bad value #%zu", i);
		assert_null(v);
		assert_non_null(strstr(error_last(), "control character"));
		assert_config_error("X-Injected");
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_get_unset_and_empty),
		T(test_require),
		T(test_require_secret_registers_for_redaction),
		T(test_long_default_when_unset),
		T(test_long_bounds_inclusive),
		T(test_long_rejects),
		T(test_long_error_shows_range),
		T(test_duration),
		T(test_duration_rejects),
		T(test_url_accepts_http_and_https),
		T(test_url_default),
		T(test_url_rejects),
		T(test_url_error_never_shows_the_value),
		T(test_check_url),
		T(test_header_value),
		T(test_header_value_rejects_controls),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
