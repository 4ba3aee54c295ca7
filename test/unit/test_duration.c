/*
 * Unit tests for parse_duration() and format_duration() (lib/config.h):
 * the syntax `--max-runtime`, JOBRUN_* durations and refresh intervals use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define YEAR (365.0 * 86400)

/* parse_duration(s) must succeed with exactly `want` seconds. The sentinel
 * makes sure a success really wrote the result. */
static void parses(const char *s, double want)
{
	double got = -12345;
	int rc = parse_duration(s, &got);
	if (rc != 0 || got != want)
		fail_msg("parse_duration(\"%s\"): rc=%d got=%.17g, want rc=0 %.17g", s, rc, got, want);
}

/* parse_duration(s) must fail and leave the output alone. */
static void rejects(const char *s)
{
	double got = -12345;
	int rc = parse_duration(s, &got);
	if (rc != -1 || got != -12345)
		fail_msg("parse_duration(\"%s\"): rc=%d got=%.17g, want rc=-1 and no write", s ? s : "(null)",
			 rc, got);
}

static void test_parse_units(void **state)
{
	(void)state;
	parses("90s", 90);
	parses("9m", 540);
	parses("2h", 7200);
	parses("30d", 2592000);
	parses("250ms", 0.25);
	parses("1ms", 0.001);
	parses("0s", 0);
	parses("1s", 1);
	parses("1m", 60);
	parses("1h", 3600);
	parses("1d", 86400);
}

static void test_parse_fractions(void **state)
{
	(void)state;
	parses("1.5s", 1.5);
	parses("0.5m", 30);
	parses("1.5h", 5400);
	parses("0.25d", 21600);
	parses(".5s", 0.5);
	parses("1500ms", 1.5);
}

static void test_parse_compound(void **state)
{
	(void)state;
	parses("1h30m", 5400);
	parses("2h30m", 9000);
	parses("1m30s", 90);
	parses("1d2h3m4s", 93784);
	parses("1s500ms", 1.5);
	parses("9m0s", 540);
}

static void test_parse_bare_numbers_are_seconds(void **state)
{
	(void)state;
	parses("0", 0);
	parses("42", 42);
	parses("540", 540);
	parses("1.5", 1.5);
	parses("3600", 3600);
}

static void test_parse_rejects_junk(void **state)
{
	(void)state;
	rejects(NULL);
	rejects("");
	rejects("s");
	rejects("ms");
	rejects("abc");
	rejects("9x");
	rejects("9 minutes");
	rejects("9min");
	rejects("9mins");
	rejects("1w");       /* no weeks */
	rejects("1y");       /* no years */
	rejects("5S");       /* units are lower case */
	rejects("90s ");     /* trailing space */
	rejects("1h30");     /* a bare number only stands alone */
	rejects("1.2.3s");
	rejects("1..5s");
	rejects("h1");
	rejects("nan");
	rejects("nans");
	rejects("inf");
	rejects("infs");
	rejects("infinity");
}

static void test_parse_rejects_negatives(void **state)
{
	(void)state;
	rejects("-1");
	rejects("-5s");
	rejects("-0.5m");
	rejects("1h-30m");
	rejects("-1ms");
}

static void test_parse_rejects_overflow(void **state)
{
	(void)state;
	/* The bound is 100 years: at the limit is fine, past it is not. */
	parses("36500d", 100 * YEAR);
	rejects("36501d");
	rejects("3153600001");
	rejects("876001h");
	rejects("1e400");    /* strtod overflow (ERANGE) */
	rejects("1e400s");
	rejects("1e308d");   /* finite number, infinite product */
	rejects("99999999999999999999999999d");
	rejects("36500d36500d"); /* each part in range, the sum is not */
}

/* ------------------------------------------------------------ format */

static const char *fmt(double seconds)
{
	static char out[64];
	memset(out, 'X', sizeof(out));
	format_duration(seconds, out, 32);
	return out;
}

static void test_format_documented_forms(void **state)
{
	(void)state;
	/* The three examples config.h promises. */
	assert_string_equal(fmt(540), "9m");
	assert_string_equal(fmt(1.5), "1.5s");
	assert_string_equal(fmt(9000), "2h30m");
}

static void test_format_whole_units(void **state)
{
	(void)state;
	assert_string_equal(fmt(0), "0s");
	assert_string_equal(fmt(1), "1s");
	assert_string_equal(fmt(59), "59s");
	assert_string_equal(fmt(60), "1m");
	assert_string_equal(fmt(90), "1m30s");
	assert_string_equal(fmt(3600), "1h");
	assert_string_equal(fmt(7200), "2h");
	assert_string_equal(fmt(86400), "1d");
	assert_string_equal(fmt(30 * 86400.0), "30d");
}

static void test_format_compound(void **state)
{
	(void)state;
	assert_string_equal(fmt(5400), "1h30m");
	assert_string_equal(fmt(3661), "1h1m1s");
	assert_string_equal(fmt(93784), "1d2h3m4s");
}

static void test_format_fractions_do_not_carry_into_60(void **state)
{
	(void)state;
	/* Rounding must never produce a 60 in a seconds or minutes place. */
	static const double values[] = { 119.6, 59.96, 3599.7 };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		const char *s = fmt(values[i]);
		if (strstr(s, "60"))
			fail_msg("format_duration(%g) = \"%s\"", values[i], s);
	}
}

static void test_format_respects_outlen(void **state)
{
	(void)state;
	char out[8];
	memset(out, 'X', sizeof(out));
	format_duration(93784.5, out, 4);
	assert_int_equal(out[3], '\0');
	assert_int_equal(out[4], 'X');
}

/* Whatever format_duration prints, parse_duration reads back to the value. */
static void test_format_round_trips(void **state)
{
	(void)state;
	static const double values[] = { 0, 1, 1.5, 30, 59, 60, 90, 540, 3599, 3600, 5400,
					 9000, 86399, 86400, 90000, 93784, 2592000, 0.25 };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char out[32];
		double back = -1;
		format_duration(values[i], out, sizeof(out));
		if (parse_duration(out, &back) || back != values[i])
			fail_msg("format_duration(%.17g) = \"%s\", which parses back as %.17g", values[i],
				 out, back);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_units),
		cmocka_unit_test(test_parse_fractions),
		cmocka_unit_test(test_parse_compound),
		cmocka_unit_test(test_parse_bare_numbers_are_seconds),
		cmocka_unit_test(test_parse_rejects_junk),
		cmocka_unit_test(test_parse_rejects_negatives),
		cmocka_unit_test(test_parse_rejects_overflow),
		cmocka_unit_test(test_format_documented_forms),
		cmocka_unit_test(test_format_whole_units),
		cmocka_unit_test(test_format_compound),
		cmocka_unit_test(test_format_fractions_do_not_carry_into_60),
		cmocka_unit_test(test_format_respects_outlen),
		cmocka_unit_test(test_format_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
