/*
 * Unit tests for lib/csv: RFC 4180 quoting, formula neutralising (also
 * behind leading white space), report names in UTC, and report files that
 * appear whole or not at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "csv.h"
#include "log.h"

/* One field as a new string. */
static char *field(const char *v)
{
	struct buf b = BUF_INIT;
	csv_field(&b, v, true);
	char *s = buf_detach(&b);
	return s ? s : calloc(1, 1);
}

#define assert_field(value, want)                \
	do {                                     \
		char *got_ = field(value);       \
		assert_string_equal(got_, want); \
		free(got_);                      \
	} while (0)

static void test_plain_fields_stay_bare(void **state)
{
	(void)state;
	assert_field("gen/image/42", "gen/image/42");
	assert_field("", "");
	assert_field(NULL, "");
	assert_field("2025-07-01T12:00:00Z", "2025-07-01T12:00:00Z");
	assert_field("caf\xc3\xa9 photo", "caf\xc3\xa9 photo");
	assert_field("a=b", "a=b");
}

static void test_rfc4180_quoting(void **state)
{
	(void)state;
	assert_field("a,b", "\"a,b\"");
	assert_field("say \"hi\"", "\"say \"\"hi\"\"\"");
	assert_field("\"", "\"\"\"\"");
	assert_field("line1\nline2", "\"line1\nline2\"");
	assert_field("cr\rhere", "\"cr\rhere\"");
	assert_field("crlf\r\nhere", "\"crlf\r\nhere\"");
}

static void test_formulas_are_neutralised(void **state)
{
	(void)state;
	assert_field("=1+1", "'=1+1");
	assert_field("+1", "'+1");
	assert_field("-1", "'-1");
	assert_field("@SUM(A1)", "'@SUM(A1)");
	assert_field("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
	assert_field("=a,b", "\"'=a,b\"");
	/* Spreadsheets skip leading white space before they decide. */
	assert_field(" =1", "' =1");
	assert_field("\t=1", "'\t=1");
	assert_field("\r=1", "\"'\r=1\"");
	assert_field("\n@x", "\"'\n@x\"");
	/* Not a formula: the sign is not first. */
	assert_field("a-1", "a-1");
	assert_field("x@y", "x@y");
	assert_field("  ", "  ");
	assert_true(csv_is_formula(" \t-"));
	assert_false(csv_is_formula(NULL));
	assert_false(csv_is_formula("photo=1"));
}

static void test_rows(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	csv_field(&b, "a", true);
	csv_field(&b, NULL, false);
	csv_field(&b, "c,d", false);
	csv_end_row(&b);
	csv_field(&b, "e", true);
	csv_end_row(&b);
	assert_string_equal(buf_str(&b), "a,,\"c,d\"\r\ne\r\n");
	buf_release(&b);
}

static void test_report_name_is_utc(void **state)
{
	(void)state;
	char name[64];
	setenv("TZ", "America/New_York", 1);
	csv_report_name(name, sizeof(name), "orphaned_files_", 1751371205.9); /* 2025-07-01 12:00:05Z */
	assert_string_equal(name, "orphaned_files_2025-07-01_120005.csv");
	unsetenv("TZ");
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	struct buf b = BUF_INIT;
	char chunk[256];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	fclose(fp);
	char *s = buf_detach(&b);
	return s ? s : calloc(1, 1);
}

static void test_file_commit_creates_dirs_and_renames(void **state)
{
	(void)state;
	char root[] = "/tmp/jobrun-csv-XXXXXX";
	assert_non_null(mkdtemp(root));
	char dir[128], path[192], tmp[192];
	snprintf(dir, sizeof(dir), "%s/a/b", root);
	snprintf(path, sizeof(path), "%s/r.csv", dir);
	snprintf(tmp, sizeof(tmp), "%s/.r.csv.tmp", dir);
	struct csv_file f;
	assert_int_equal(csv_file_open(&f, dir, "r.csv"), 0);
	csv_field(&f.row, "x", true);
	csv_end_row(&f.row);
	assert_int_equal(csv_file_flush(&f), 0);
	/* Not under its name until it is complete. */
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), 0);
	csv_field(&f.row, "=y", true);
	csv_end_row(&f.row);
	assert_int_equal(csv_file_commit(&f), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	char *got = slurp(path);
	assert_string_equal(got, "x\r\n'=y\r\n");
	free(got);

	/* Aborted: nothing under either name. */
	assert_int_equal(csv_file_open(&f, dir, "s.csv"), 0);
	csv_field(&f.row, "z", true);
	assert_int_equal(csv_file_flush(&f), 0);
	csv_file_abort(&f);
	snprintf(path, sizeof(path), "%s/s.csv", dir);
	snprintf(tmp, sizeof(tmp), "%s/.s.csv.tmp", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);

	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void test_unwritable_dir_is_a_clear_error(void **state)
{
	(void)state;
	char root[] = "/tmp/jobrun-csv-XXXXXX";
	assert_non_null(mkdtemp(root));
	char file[128], dir[160];
	snprintf(file, sizeof(file), "%s/plain-file", root);
	FILE *fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	/* A directory below a plain file cannot exist, even for root. */
	snprintf(dir, sizeof(dir), "%s/sub", file);
	struct csv_file f;
	error_clear();
	assert_int_equal(csv_file_open(&f, dir, "r.csv"), -1);
	assert_non_null(error_last());
	assert_non_null(strstr(error_last(), "report directory"));
	assert_non_null(strstr(error_last(), "plain-file"));
	assert_null(f.fp);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	log_setup(LOG_QUIET, false);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_fields_stay_bare),
		cmocka_unit_test(test_rfc4180_quoting),
		cmocka_unit_test(test_formulas_are_neutralised),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_report_name_is_utc),
		cmocka_unit_test(test_file_commit_creates_dirs_and_renames),
		cmocka_unit_test(test_unwritable_dir_is_a_clear_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
