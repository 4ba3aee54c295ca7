/*
 * Unit tests for cleanup's retention per plan (jobs/cleanup_retention.c):
 * the syntax, '*=D', errors that say what is wrong, lookup and the
 * canonical form the run record keeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "log.h"

static void parses(const char *text, const char *canonical)
{
	struct cleanup_retention r;
	char why[200], out[256];
	if (cleanup_retention_parse(text, &r, why, sizeof(why)))
		fail_msg("'%s' refused: %s", text, why);
	cleanup_retention_format(&r, out, sizeof(out));
	assert_string_equal(out, canonical);
}

static void refuses(const char *text, const char *reason)
{
	struct cleanup_retention r;
	char why[200];
	if (!cleanup_retention_parse(text, &r, why, sizeof(why)))
		fail_msg("'%s' accepted", text);
	if (!strstr(why, reason))
		fail_msg("'%s': '%s' does not say '%s'", text, why, reason);
	assert_int_equal(r.n, 0);
	assert_false(r.has_default);
}

static void test_syntax(void **state)
{
	(void)state;
	parses(CLEANUP_DEFAULT_RETENTION, "free=5d,premium=30d");
	parses(" free=5d , premium=720h ", "free=5d,premium=30d");
	parses("free=36h,*=10d", "free=1d12h,*=10d");
	parses("*=7d", "*=7d");
	parses("team.v2=1d,pro_annual=90d", "team.v2=1d,pro_annual=90d");
	refuses("", "no plan");
	refuses(",", "no plan");
	refuses("free", "'free' is not plan=duration");
	refuses("=5d", "no plan before '=5d'");
	refuses("free=", "plan 'free' has no valid duration");
	refuses("free=5x", "plan 'free' has no valid duration");
	refuses("free=0d", "plan 'free' has no valid duration");
	refuses("free=-1d", "plan 'free' has no valid duration");
	refuses("free=5d,free=6d", "plan 'free' is given twice");
	refuses("*=5d,*=6d", "'*' is given twice");
	refuses("fr ee=5d", "plan 'fr ee' has characters");
	refuses("fr'ee=5d", "has characters other than");
}

static void test_lookup(void **state)
{
	(void)state;
	struct cleanup_retention r;
	char why[200];
	assert_int_equal(cleanup_retention_parse("free=5d,premium=30d", &r, why, sizeof(why)), 0);
	assert_true(cleanup_retention_of(&r, "free") == 5 * 86400.0);
	assert_true(cleanup_retention_of(&r, "premium") == 30 * 86400.0);
	assert_true(cleanup_retention_of(&r, "business") < 0); /* unknown: the run refuses it */
	assert_true(cleanup_retention_of(&r, NULL) < 0);
	assert_int_equal(cleanup_retention_parse("free=5d,*=2d", &r, why, sizeof(why)), 0);
	assert_true(cleanup_retention_of(&r, "business") == 2 * 86400.0);
	assert_true(cleanup_retention_of(&r, "free") == 5 * 86400.0);
}

static void test_too_many(void **state)
{
	(void)state;
	char text[2048] = "", one[32];
	for (int i = 0; i <= CLEANUP_MAX_PLANS; i++) {
		snprintf(one, sizeof(one), "%sp%d=1d", i ? "," : "", i);
		strcat(text, one);
	}
	refuses(text, "more plans than 32");
}

int main(void)
{
	log_setup(LOG_QUIET, false);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
