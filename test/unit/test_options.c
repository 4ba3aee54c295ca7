/*
 * Unit tests for cmd/options.c, the option parser every command uses. The
 * Makefile links only lib/ and jobs/ objects into unit tests, and options.c
 * depends on nothing but lib/, so it is compiled into this test directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.c"

static const char usage[] = "usage: jobrun test [--limit N] [--dry-run] [--since D] [--name S]\n"
			    "\nMore help text.\n";

struct parsed {
	long limit;
	bool dry_run;
	bool limit_set;
	double since;
	const char *name;
	struct global_options g;
};

/* Parse a NULL-terminated list of words; stderr is captured into err. */
static int parse(struct parsed *p, char *err, size_t errlen, char **words)
{
	memset(p, 0, sizeof(*p));
	p->limit = -1;
	const struct opt opts[] = {
		{ "limit", 'n', OPT_LONG, &p->limit, &p->limit_set },
		OPT_FLAG("dry-run", 0, &p->dry_run),
		OPT_DURATION("since", &p->since),
		OPT_STRING("name", &p->name),
		OPT_TABLE_END,
	};
	static char *argv[32];
	int argc = 0;
	argv[argc++] = "test";
	for (size_t k = 0; words[k] && argc < 31; k++)
		argv[argc++] = words[k];
	argv[argc] = NULL;

	fflush(stderr);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	int r = parse_options(argc, argv, opts, &p->g, usage);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	size_t n = fread(err, 1, errlen - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	log_setup(LOG_QUIET, false);
	/* Positional arguments are moved to the front. */
	for (int i = 1; i <= r; i++)
		words[i - 1] = argv[i];
	return r;
}

#define W(...) ((char *[]){ __VA_ARGS__, NULL })

static int setup(void **state)
{
	(void)state;
	unsetenv("JOBRUN_LOG_LEVEL");
	unsetenv("JOBRUN_MAX_RUNTIME");
	error_clear();
	return 0;
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(edit_distance("", ""), 0);
	assert_int_equal(edit_distance("limit", "limit"), 0);
	assert_int_equal(edit_distance("limt", "limit"), 1);
	assert_int_equal(edit_distance("migrat", "migrate"), 1);
	assert_int_equal(edit_distance("kitten", "sitting"), 3);
	assert_int_equal(edit_distance("", "abc"), 3);
	assert_int_equal(edit_distance("abc", ""), 3);
	assert_int_equal(edit_distance("flaw", "lawn"), 2);
}

static void test_values_and_positionals(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	char **w = W("pos1", "--limit", "180", "--dry-run", "pos2", "--since=2h", "--name", "x y");
	assert_int_equal(parse(&p, err, sizeof(err), w), 2);
	assert_string_equal(w[0], "pos1");
	assert_string_equal(w[1], "pos2");
	assert_int_equal(p.limit, 180);
	assert_true(p.limit_set);
	assert_true(p.dry_run);
	assert_true(p.since == 7200);
	assert_string_equal(p.name, "x y");
	assert_string_equal(err, "");
	assert_true(p.g.max_runtime_s == DEFAULT_MAX_RUNTIME_S);
}

static void test_short_and_inline(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	assert_int_equal(parse(&p, err, sizeof(err), W("-n", "5", "--name=", "--", "--dry-run")), 1);
	assert_int_equal(p.limit, 5);
	assert_string_equal(p.name, "");
	assert_false(p.dry_run); /* after "--" everything is positional */
	assert_true(p.limit_set);
}

static void test_globals_anywhere(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	assert_int_equal(parse(&p, err, sizeof(err), W("--json", "-v", "-v", "-q", "--max-runtime", "90s")),
			 0);
	assert_true(p.g.json);
	assert_int_equal(p.g.verbosity, 1);
	assert_true(p.g.max_runtime_s == 90);
	assert_true(p.g.max_runtime_set);
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime=1h30m")), 0);
	assert_true(p.g.max_runtime_s == 5400);
}

static void test_max_runtime_from_env(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	setenv("JOBRUN_MAX_RUNTIME", "5m", 1);
	assert_int_equal(parse(&p, err, sizeof(err), W("x")), 1);
	assert_true(p.g.max_runtime_s == 300);
	/* The flag wins over the environment. */
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime", "20s")), 0);
	assert_true(p.g.max_runtime_s == 20);
	setenv("JOBRUN_MAX_RUNTIME", "soon", 1);
	assert_int_equal(parse(&p, err, sizeof(err), W("x")), OPTIONS_CONFIG);
	assert_non_null(strstr(error_last(), "JOBRUN_MAX_RUNTIME"));
	assert_int_equal(options_exit_code(OPTIONS_CONFIG), 78);
	unsetenv("JOBRUN_MAX_RUNTIME");
}

static void test_max_runtime_zero_refused(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	/* 0 would mean "no budget at all": a usage error, not a silent default. */
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime", "0")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "--max-runtime: must be more than 0"));
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime=0s")), OPTIONS_ERROR);
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime=0ms")), OPTIONS_ERROR);
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime=1ms")), 0);
	assert_true(p.g.max_runtime_s == 0.001);
	setenv("JOBRUN_MAX_RUNTIME", "0", 1);
	assert_int_equal(parse(&p, err, sizeof(err), W("x")), OPTIONS_CONFIG);
	assert_non_null(strstr(error_last(), "JOBRUN_MAX_RUNTIME: must be more than 0"));
	assert_int_equal(error_last_kind(), ERR_CONFIG);
	/* The flag still wins over the environment. */
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime", "5s")), 0);
	assert_true(p.g.max_runtime_s == 5);
	unsetenv("JOBRUN_MAX_RUNTIME");
}

/* Globals before the command: parse_global_options() on "jobrun <words>". */
static int parse_globals(struct global_options *g, char *err, size_t errlen, char **words)
{
	memset(g, 0, sizeof(*g));
	static char *argv[32];
	int argc = 0;
	argv[argc++] = "jobrun";
	for (size_t k = 0; words[k] && argc < 31; k++)
		argv[argc++] = words[k];
	argv[argc] = NULL;
	fflush(stderr);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	int r = parse_global_options(argc, argv, g, usage);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	size_t n = fread(err, 1, errlen - 1, tmp);
	err[n] = '\0';
	fclose(tmp);
	return r;
}

static void test_globals_before_command(void **state)
{
	(void)state;
	struct global_options g;
	char err[512];
	/* Every spelling the command's parser takes works before the command. */
	assert_int_equal(parse_globals(&g, err, sizeof(err), W("--max-runtime=9m", "runs")), 2);
	assert_true(g.max_runtime_s == 540 && g.max_runtime_set);
	assert_int_equal(parse_globals(&g, err, sizeof(err),
				       W("--json", "-v", "--max-runtime", "90s", "-q", "-v", "runs", "--limit")),
			 7);
	assert_true(g.json && g.verbosity == 1 && g.max_runtime_s == 90);
	assert_int_equal(parse_globals(&g, err, sizeof(err), W("runs", "--json")), 1);
	assert_false(g.json); /* after the command: the command's parser takes it */
	assert_int_equal(parse_globals(&g, err, sizeof(err), W("--json")), 2);
	assert_string_equal(err, "");
	assert_int_equal(parse_globals(&g, err, sizeof(err), W("--version", "--bogus")), OPTIONS_VERSION);
	assert_int_equal(parse_globals(&g, err, sizeof(err), W("-v", "--help")), OPTIONS_HELP);
	assert_string_equal(err, ""); /* main prints the full help itself */

	assert_int_equal(parse_globals(&g, err, sizeof(err), W("--bogus", "runs")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "unknown option '--bogus'"));
	assert_int_equal(parse_globals(&g, err, sizeof(err), W("--max-runtime=0", "runs")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "--max-runtime: must be more than 0"));
	assert_int_equal(parse_globals(&g, err, sizeof(err), W("--max-runtime")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "--max-runtime needs a value"));
	assert_int_equal(parse_globals(&g, err, sizeof(err), W("--max-runtime", "soon", "runs")),
			 OPTIONS_ERROR);
	assert_non_null(strstr(err, "--max-runtime: invalid duration 'soon'"));
}

static void test_bad_log_level_env(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	setenv("JOBRUN_LOG_LEVEL", "chatty", 1);
	assert_int_equal(parse(&p, err, sizeof(err), W("x")), OPTIONS_CONFIG);
	assert_non_null(strstr(error_last(), "JOBRUN_LOG_LEVEL"));
	unsetenv("JOBRUN_LOG_LEVEL");
}

static void test_unknown_option_suggests(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	assert_int_equal(parse(&p, err, sizeof(err), W("--limt", "5")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "unknown option '--limt'"));
	assert_non_null(strstr(err, "did you mean '--limit'?"));
	assert_non_null(strstr(err, "usage: jobrun test"));
	assert_null(strstr(err, "More help text")); /* only the synopsis line */
	assert_int_equal(parse(&p, err, sizeof(err), W("--jsno")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "did you mean '--json'?"));
	assert_int_equal(parse(&p, err, sizeof(err), W("--completely-different")), OPTIONS_ERROR);
	assert_null(strstr(err, "did you mean"));
	assert_int_equal(parse(&p, err, sizeof(err), W("-x")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "unknown option '-x'"));
	assert_int_equal(options_exit_code(OPTIONS_ERROR), 64);
}

static void test_bad_values(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	assert_int_equal(parse(&p, err, sizeof(err), W("--limit", "many")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "--limit: expected a whole number"));
	assert_int_equal(parse(&p, err, sizeof(err), W("--limit=-1")), OPTIONS_ERROR);
	assert_int_equal(parse(&p, err, sizeof(err), W("--limit", "12x")), OPTIONS_ERROR);
	assert_int_equal(parse(&p, err, sizeof(err), W("--limit")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "--limit needs a value"));
	assert_int_equal(parse(&p, err, sizeof(err), W("--since", "3 weeks")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "--since: invalid duration"));
	assert_int_equal(parse(&p, err, sizeof(err), W("--dry-run=yes")), OPTIONS_ERROR);
	assert_non_null(strstr(err, "--dry-run takes no value"));
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime")), OPTIONS_ERROR);
	assert_int_equal(parse(&p, err, sizeof(err), W("--max-runtime", "-5s")), OPTIONS_ERROR);
}

static void test_help(void **state)
{
	(void)state;
	struct parsed p;
	char err[512];
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	FILE *tmp = tmpfile();
	dup2(fileno(tmp), STDOUT_FILENO);
	int r = parse(&p, err, sizeof(err), W("--limit", "3", "--help", "--bogus"));
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	char out[512];
	rewind(tmp);
	size_t n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	assert_int_equal(r, OPTIONS_HELP);
	assert_string_equal(out, usage);
	assert_int_equal(options_exit_code(OPTIONS_HELP), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_edit_distance),
		T(test_values_and_positionals),
		T(test_short_and_inline),
		T(test_globals_anywhere),
		T(test_max_runtime_from_env),
		T(test_max_runtime_zero_refused),
		T(test_globals_before_command),
		T(test_bad_log_level_env),
		T(test_unknown_option_suggests),
		T(test_bad_values),
		T(test_help),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
