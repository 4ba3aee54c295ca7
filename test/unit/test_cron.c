/*
 * Unit tests for cron expressions (lib/cron.h): cronie's syntax and day
 * rule, the errors, and next fire times including New York and Berlin DST
 * transitions. Expected times are written out by hand from the calendar and
 * the zones' published rules, not computed by the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cron.h"
#include "tz.h"

/* "2024-03-10T07:00Z" -> Unix seconds. */
static long long ts(const char *iso)
{
	int y, mo, d, h, mi;
	if (sscanf(iso, "%d-%d-%dT%d:%dZ", &y, &mo, &d, &h, &mi) != 5)
		fail_msg("bad test time '%s'", iso);
	return tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void iso(long long t, char out[32])
{
	if (t < 0) {
		snprintf(out, 32, "never");
		return;
	}
	long long y;
	int m, d;
	long long days = t / 86400, s = t % 86400;
	tz_civil_from_days(days, &y, &m, &d);
	snprintf(out, 32, "%04lld-%02d-%02dT%02lld:%02lldZ", y, m, d, s / 3600, s % 3600 / 60);
}

static struct cron_expr *parse_ok(const char *spec, const char *tz)
{
	char err[256] = "";
	struct cron_expr *e = cron_parse(spec, tz, err, sizeof(err));
	if (!e)
		fail_msg("cron_parse(\"%s\", %s): %s", spec, tz ? tz : "NULL", err);
	return e;
}

/* The fire times after `from`, in order; NULL ends the list. */
static void fires(const char *spec, const char *tz, const char *from, ...)
{
	struct cron_expr *e = parse_ok(spec, tz);
	long long t = ts(from);
	va_list ap;
	va_start(ap, from);
	for (const char *want; (want = va_arg(ap, const char *));) {
		long long got = cron_next(e, t);
		char g[32];
		iso(got, g);
		if (strcmp(g, want))
			fail_msg("'%s' in %s after %s: got %s, want %s", spec, tz ? tz : "UTC",
				 from, g, want);
		t = got;
		from = want;
	}
	va_end(ap);
	cron_free(e);
}

/* cron_parse must fail with an error containing `why`. */
static void rejects(const char *spec, const char *tz, const char *why)
{
	char err[256] = "";
	struct cron_expr *e = cron_parse(spec, tz, err, sizeof(err));
	if (e) {
		cron_free(e);
		fail_msg("cron_parse(\"%s\") accepted it, want an error with '%s'", spec, why);
	}
	if (!strstr(err, why))
		fail_msg("cron_parse(\"%s\"): error '%s', want one with '%s'", spec, err, why);
}

static void test_field_errors(void **state)
{
	(void)state;
	rejects("60 * * * *", NULL, "minute: 60 is out of range 0-59");
	rejects("* 24 * * *", NULL, "hour: 24 is out of range 0-23");
	rejects("* * 0 * *", NULL, "day-of-month: 0 is out of range 1-31");
	rejects("* * 32 * *", NULL, "day-of-month: 32 is out of range");
	rejects("* * * 13 *", NULL, "month: 13 is out of range 1-12");
	rejects("* * * 0 *", NULL, "month: 0 is out of range");
	rejects("* * * * 8", NULL, "day-of-week: 8 is out of range 0-7");
	rejects("99999999999999999999 * * * *", NULL, "minute:");
	rejects("*/0 * * * *", NULL, "minute: a step of 0");
	rejects("* 1-5/0 * * *", NULL, "hour: a step of 0");
	rejects("5-1 * * * *", NULL, "minute: reversed range 5-1");
	rejects("* * * dec-jan *", NULL, "month: reversed range 12-1");
	rejects("5/10 * * * *", NULL, "minute: a step needs a range or '*'");
	rejects("* * * foo *", NULL, "month: unknown name 'foo'");
	rejects("* * * * monday", NULL, "day-of-week: unknown name 'monday'");
	rejects("* * * * jan", NULL, "day-of-week: unknown name 'jan'");
	rejects("mon * * * *", NULL, "minute: 'mon' is not a number");
	rejects("1,,2 * * * *", NULL, "minute: empty element");
	rejects("1, * * * *", NULL, "minute: empty element");
	rejects("~ * * * *", NULL, "random ranges");
	rejects("*-5 * * * *", NULL, "minute: unexpected '-5'");
	rejects("* * * *", NULL, "4 fields, expected 5");
	rejects("", NULL, "0 fields, expected 5");
	rejects("* * * * * *", NULL, "more than 5 fields");
	rejects("*/a * * * *", NULL, "a step must be a number");
	rejects("1x * * * *", NULL, "minute: '1x' is not a number");
}

static void test_keywords(void **state)
{
	(void)state;
	fires("@yearly", NULL, "2024-06-01T12:00Z", "2025-01-01T00:00Z", "2026-01-01T00:00Z", NULL);
	fires("@annually", NULL, "2024-06-01T12:00Z", "2025-01-01T00:00Z", NULL);
	fires("@monthly", NULL, "2024-06-01T12:00Z", "2024-07-01T00:00Z", "2024-08-01T00:00Z", NULL);
	fires("@weekly", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z", "2024-06-09T00:00Z", NULL);
	fires("@daily", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z", "2024-06-03T00:00Z", NULL);
	fires("@midnight", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z", NULL);
	fires("@hourly", NULL, "2024-06-01T12:00Z", "2024-06-01T13:00Z", "2024-06-01T14:00Z", NULL);
	rejects("@reboot", NULL, "@reboot has no time");
	rejects("@fortnightly", NULL, "unknown keyword '@fortnightly'");
	rejects("@Daily", NULL, "unknown keyword");
	/* The spec is kept as written, trimmed. */
	struct cron_expr *e = parse_ok("  @daily ", NULL);
	assert_string_equal(cron_spec(e), "@daily");
	assert_string_equal(cron_zone(e), "UTC");
	cron_free(e);
}

static void test_names_and_sunday(void **state)
{
	(void)state;
	/* 2024-06-01 is a Saturday. */
	fires("0 0 * * 0", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z", NULL);
	fires("0 0 * * 7", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z", "2024-06-09T00:00Z", NULL);
	fires("0 0 * * SUN", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z", NULL);
	fires("0 0 * * fri-sun", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z",
	      "2024-06-07T00:00Z", "2024-06-08T00:00Z", "2024-06-09T00:00Z", NULL);
	fires("0 0 * * 5-7", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z", "2024-06-07T00:00Z", NULL);
	/* cronie's exception: 5-0 reads as 5-7. */
	fires("0 0 * * 5-0", NULL, "2024-06-01T12:00Z", "2024-06-02T00:00Z", "2024-06-07T00:00Z", NULL);
	fires("0 0 1 Jan,jul *", NULL, "2024-06-01T12:00Z", "2024-07-01T00:00Z", "2025-01-01T00:00Z",
	      NULL);
	fires("0 12 * mar-may Mon-Fri", NULL, "2024-05-30T13:00Z", "2024-05-31T12:00Z",
	      "2025-03-03T12:00Z", NULL);
}

static void test_steps(void **state)
{
	(void)state;
	fires("*/15 * * * *", NULL, "2024-06-01T12:01Z", "2024-06-01T12:15Z", "2024-06-01T12:30Z",
	      "2024-06-01T12:45Z", "2024-06-01T13:00Z", NULL);
	fires("10-50/20 * * * *", NULL, "2024-06-01T12:00Z", "2024-06-01T12:10Z",
	      "2024-06-01T12:30Z", "2024-06-01T12:50Z", "2024-06-01T13:10Z", NULL);
	fires("0 */7 * * *", NULL, "2024-06-01T22:00Z", "2024-06-02T00:00Z", "2024-06-02T07:00Z", NULL);
	/* A step past the range keeps the first value (cronie warns, accepts). */
	fires("*/100 * * * *", NULL, "2024-06-01T12:00Z", "2024-06-01T13:00Z", NULL);
	fires("0 0 */10 * *", NULL, "2024-06-25T00:00Z", "2024-07-01T00:00Z", "2024-07-11T00:00Z",
	      "2024-07-21T00:00Z", "2024-07-31T00:00Z", "2024-08-01T00:00Z", NULL);
	fires("5,1-3,59 * * * *", NULL, "2024-06-01T12:00Z", "2024-06-01T12:01Z",
	      "2024-06-01T12:02Z", "2024-06-01T12:03Z", "2024-06-01T12:05Z", "2024-06-01T12:59Z",
	      NULL);
}

static void test_day_rule(void **state)
{
	(void)state;
	/* Both day fields restricted: either matches. "0 0 1-7 * 2" is not the
	 * first Tuesday: it is days 1-7 AND every Tuesday. 2024-05-01 is a
	 * Wednesday. */
	fires("0 0 1-7 * 2", NULL, "2024-04-30T12:00Z", "2024-05-01T00:00Z", "2024-05-02T00:00Z",
	      "2024-05-03T00:00Z", "2024-05-04T00:00Z", "2024-05-05T00:00Z", "2024-05-06T00:00Z",
	      "2024-05-07T00:00Z", "2024-05-14T00:00Z", "2024-05-21T00:00Z", NULL);
	/* A day field starting with '*' counts as unrestricted, even a step
	 * over '*': then both must match - odd days that are Tuesdays. */
	fires("0 0 */2 * 2", NULL, "2024-04-30T12:00Z", "2024-05-07T00:00Z", "2024-05-21T00:00Z",
	      "2024-06-11T00:00Z", NULL);
	fires("0 0 13 * 5", NULL, "2024-09-01T00:00Z", "2024-09-06T00:00Z", "2024-09-13T00:00Z",
	      "2024-09-20T00:00Z", NULL);
	fires("0 0 13 * *", NULL, "2024-09-01T00:00Z", "2024-09-13T00:00Z", "2024-10-13T00:00Z", NULL);
	fires("0 0 * * 5", NULL, "2024-09-01T00:00Z", "2024-09-06T00:00Z", "2024-09-13T00:00Z", NULL);
}

static void test_impossible_dates(void **state)
{
	(void)state;
	rejects("0 0 30 2 *", NULL, "never fire");
	rejects("0 0 31 2 *", NULL, "never fire");
	rejects("0 0 31 4,6,9,11 *", NULL, "never fire");
	rejects("0 0 30,31 feb *", NULL, "never fire");
	/* Rare is not impossible. */
	fires("0 0 29 2 *", NULL, "2096-03-01T00:00Z", "2104-02-29T00:00Z", NULL);
	rejects("0 0 31 2,4 *", NULL, "never fire");
	fires("0 0 31 2,5 *", NULL, "2024-01-01T00:00Z", "2024-05-31T00:00Z", "2025-05-31T00:00Z", NULL);
	/* Both restricted: any Monday of February does. */
	fires("0 0 30 2 1", NULL, "2024-01-01T00:00Z", "2024-02-05T00:00Z", NULL);
}

static void test_far_future(void **state)
{
	(void)state;
	/* Past the tzfile's table (2037): the footer's rule. */
	fires("0 12 * * *", "America/New_York", "2100-07-01T00:00Z", "2100-07-01T16:00Z", NULL);
	fires("0 12 * * *", "America/New_York", "2100-12-01T00:00Z", "2100-12-01T17:00Z", NULL);
	fires("0 12 * * *", "Europe/Berlin", "2300-01-01T00:00Z", "2300-01-01T11:00Z", NULL);
	fires("0 0 1 1 *", NULL, "9998-06-01T00:00Z", "9999-01-01T00:00Z", "never", NULL);
	struct cron_expr *e = parse_ok("* * * * *", "Europe/Berlin");
	assert_int_equal(cron_next(e, 253402300799LL), -1);
	assert_int_equal(cron_next(e, 1LL << 62), -1);
	assert_true(cron_next(e, -(1LL << 62)) > -62135596800LL);
	cron_free(e);
	e = parse_ok("0 0 29 2 1", NULL);
	assert_int_equal(cron_next(e, 1LL << 62), -1);
	cron_free(e);
}

static void test_zones(void **state)
{
	(void)state;
	rejects("0 0 * * *", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'");
	rejects("0 0 * * *", "../../etc/passwd", "not a time zone name");
	rejects("0 0 * * *", "/etc/localtime", "not a time zone name");
	rejects("0 0 * * *", "Europe", "Europe");
	struct cron_expr *e = parse_ok("0 2 * * *", "America/New_York");
	assert_string_equal(cron_zone(e), "America/New_York");
	assert_int_equal(cron_offset(e, ts("2024-01-15T00:00Z")), -5 * 3600);
	assert_int_equal(cron_offset(e, ts("2024-07-15T00:00Z")), -4 * 3600);
	int off = 1;
	assert_false(cron_fixed_offset(e, ts("2024-07-15T00:00Z"), &off));
	cron_free(e);
	e = parse_ok("0 2 * * *", "Asia/Tokyo");
	assert_true(cron_fixed_offset(e, ts("2024-07-15T00:00Z"), &off));
	assert_int_equal(off, 9 * 3600);
	cron_free(e);
	fires("0 9 * * *", "Asia/Tokyo", "2024-07-15T00:00Z", "2024-07-16T00:00Z", NULL);
	fires("0 9 * * *", "Asia/Kolkata", "2024-07-15T00:00Z", "2024-07-15T03:30Z", NULL);
}

/* New York, 2024: clocks go 02:00 EST -> 03:00 EDT on March 10 (07:00Z)
 * and 02:00 EDT -> 01:00 EST on November 3 (06:00Z). */
static void test_new_york_spring(void **state)
{
	(void)state;
	const char *ny = "America/New_York";
	/* 02:30 does not exist on March 10: once, at 03:00 EDT. */
	fires("30 2 * * *", ny, "2024-03-09T12:00Z", "2024-03-10T07:00Z", "2024-03-11T06:30Z", NULL);
	/* Two fixed times in the gap still fire once. */
	fires("0,30 2 * * *", ny, "2024-03-09T12:00Z", "2024-03-10T07:00Z", "2024-03-11T06:00Z",
	      "2024-03-11T06:30Z", NULL);
	/* 03:00 itself is right after the gap: once. */
	fires("0 3 * * *", ny, "2024-03-09T12:00Z", "2024-03-10T07:00Z", "2024-03-11T07:00Z", NULL);
	/* A wildcard hour follows the clock: 02:30 never happens. */
	fires("30 * * * *", ny, "2024-03-10T05:00Z", "2024-03-10T05:30Z", "2024-03-10T06:30Z",
	      "2024-03-10T07:30Z", NULL);
	fires("*/20 * * * *", ny, "2024-03-10T06:30Z", "2024-03-10T06:40Z", "2024-03-10T07:00Z",
	      "2024-03-10T07:20Z", NULL);
}

static void test_new_york_fall(void **state)
{
	(void)state;
	const char *ny = "America/New_York";
	/* 01:30 happens twice on November 3: the first one only. */
	fires("30 1 * * *", ny, "2024-11-03T04:00Z", "2024-11-03T05:30Z", "2024-11-04T06:30Z", NULL);
	/* Asked between the two passes: the second is not a new slot. */
	fires("30 1 * * *", ny, "2024-11-03T05:45Z", "2024-11-04T06:30Z", NULL);
	fires("*/30 1 * * *", ny, "2024-11-03T04:00Z", "2024-11-03T05:00Z", "2024-11-03T05:30Z",
	      "2024-11-04T06:00Z", NULL);
	/* A wildcard hour fires in both passes. */
	fires("30 * * * *", ny, "2024-11-03T04:00Z", "2024-11-03T04:30Z", "2024-11-03T05:30Z",
	      "2024-11-03T06:30Z", "2024-11-03T07:30Z", NULL);
	/* 02:00 exists once (EST), after the repeated hour. */
	fires("0 2 * * *", ny, "2024-11-03T04:00Z", "2024-11-03T07:00Z", NULL);
}

/* Berlin, 2024: 02:00 CET -> 03:00 CEST on March 31 (01:00Z), 03:00 CEST ->
 * 02:00 CET on October 27 (01:00Z). */
static void test_berlin(void **state)
{
	(void)state;
	const char *be = "Europe/Berlin";
	fires("30 2 * * *", be, "2024-03-30T12:00Z", "2024-03-31T01:00Z", "2024-04-01T00:30Z", NULL);
	fires("15 2 * * 0", be, "2024-03-30T12:00Z", "2024-03-31T01:00Z", "2024-04-07T00:15Z", NULL);
	fires("30 2 * * *", be, "2024-10-26T12:00Z", "2024-10-27T00:30Z", "2024-10-28T01:30Z", NULL);
	fires("0 * * * *", be, "2024-10-26T23:30Z", "2024-10-27T00:00Z", "2024-10-27T01:00Z",
	      "2024-10-27T02:00Z", NULL);
	fires("0 * * * *", be, "2024-03-30T23:30Z", "2024-03-31T00:00Z", "2024-03-31T01:00Z",
	      "2024-03-31T02:00Z", NULL);
	/* Not near a change: plain CET and CEST. */
	fires("0 2 * * *", be, "2024-01-10T00:00Z", "2024-01-10T01:00Z", NULL);
	fires("0 2 * * *", be, "2024-07-10T02:00Z", "2024-07-11T00:00Z", NULL);
}

/* Every answer is after its question and the sequence strictly increases,
 * for a spread of expressions and zones over two years. */
static void test_monotonic(void **state)
{
	(void)state;
	const char *specs[] = { "*/7 * * * *", "0 2 * * *", "30 1 * * 0", "0 0 29 2 *",
				"15 */3 1,15 * 1-5" };
	const char *zones[] = { NULL, "America/New_York", "Europe/Berlin", "Australia/Sydney",
				"Australia/Lord_Howe" };
	for (size_t z = 0; z < 5; z++)
		for (size_t s = 0; s < 5; s++) {
			struct cron_expr *e = parse_ok(specs[s], zones[z]);
			long long t = ts("2024-01-01T00:00Z"), end = ts("2026-01-01T00:00Z");
			int n = 0;
			while (t < end && n++ < 200000) {
				long long next = cron_next(e, t);
				if (next <= t)
					fail_msg("'%s' %s: next(%lld) = %lld", specs[s],
						 zones[z] ? zones[z] : "UTC", t, next);
				t = next;
			}
			cron_free(e);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_field_errors),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_names_and_sunday),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_day_rule),
		cmocka_unit_test(test_impossible_dates),
		cmocka_unit_test(test_far_future),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_new_york_spring),
		cmocka_unit_test(test_new_york_fall),
		cmocka_unit_test(test_berlin),
		cmocka_unit_test(test_monotonic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
