/*
 * Unit tests for the scan of migration scripts (lib/migrate.h): which
 * objects a script creates and drops, so `doctor` and `migrate` can check
 * them without a second, hand-kept list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "migrate.h"

static void collect(bool create, const char *kind, const char *name, void *ctx)
{
	buf_addf(ctx, "%s%c%s %s", ((struct buf *)ctx)->len ? "; " : "", create ? '+' : '-', kind,
		 name);
}

#define assert_scans(sql, want)                                 \
	do {                                                    \
		struct buf got_ = BUF_INIT;                     \
		migrate_scan_objects((sql), collect, &got_);    \
		assert_string_equal(buf_str(&got_), (want));   \
		buf_release(&got_);                             \
	} while (0)

static void test_creates_qualified_and_lowercased(void **state)
{
	(void)state;
	assert_scans("CREATE SCHEMA IF NOT EXISTS jobrun;\n"
		     "CREATE TABLE jobrun.Runs (id bigserial PRIMARY KEY, job text);\n"
		     "create unique index runs_job_idx on jobrun.runs (job);\n"
		     "CREATE INDEX CONCURRENTLY IF NOT EXISTS x_idx ON ONLY other.t (a);\n"
		     "CREATE TABLE plain (a int);\n"
		     "CREATE OR REPLACE FUNCTION jobrun.f(p jsonb) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;",
		     "+schema jobrun; +table jobrun.runs; +index jobrun.runs_job_idx; +index other.x_idx; "
		     "+table public.plain; +function jobrun.f");
}

static void test_skips_comments_strings_and_bodies(void **state)
{
	(void)state;
	assert_scans("-- CREATE TABLE in.comment;\n"
		     "/* CREATE TABLE in.block; */\n"
		     "CREATE FUNCTION s.g() RETURNS void LANGUAGE plpgsql AS $body$\n"
		     "BEGIN CREATE TABLE in.body (a int); END $body$;\n"
		     "INSERT INTO s.t VALUES ('; CREATE TABLE in.string (a int)', $1);\n"
		     "CREATE INDEX ON s.t (a);\n"
		     "CREATE VIEW s.v AS SELECT 1;",
		     "+function s.g; +view s.v");
}

static void test_drops(void **state)
{
	(void)state;
	assert_scans("DROP TABLE IF EXISTS jobrun.old CASCADE; DROP SCHEMA legacy; DROP INDEX jobrun.i;",
		     "-table jobrun.old; -schema legacy; -index jobrun.i");
}

/* The compiled-in migrations: what doctor will look for. */
static void test_real_migrations(void **state)
{
	(void)state;
	struct buf all = BUF_INIT;
	for (int i = 0; i < migrations_count; i++)
		migrate_scan_objects(migrations[i].sql, collect, &all);
	const char *want[] = { "+schema jobrun", "+table jobrun.runs", "+index jobrun.runs_running_idx",
			       "+table jobrun.rate_buckets", "+function jobrun.rate_take",
			       "+function jobrun.rate_tighten", "+schema comicvine",
			       "+table comicvine.volumes", "+index comicvine.issues_volume_id_idx" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(buf_str(&all), want[i]))
			fail_msg("'%s' not in: %s", want[i], buf_str(&all));
	buf_release(&all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_creates_qualified_and_lowercased),
		cmocka_unit_test(test_skips_comments_strings_and_bodies),
		cmocka_unit_test(test_drops),
		cmocka_unit_test(test_real_migrations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
