/*
 * test-tool: the commands the tests need and operators must not have, in
 * a binary of their own (as git's t/helper/test-tool). `debug-pace` spends
 * a provider's real rate window and `debug-work` writes run records that
 * `runs` and `prune` see, so they are not in build/jobrun; they run through
 * the same option parser, job lifecycle (cmd/job_main.c), jobs/ and lib/.
 *
 *	build/asan/test-tool debug-work --items 3     (make check)
 *	build/test-tool debug-pace URL                (make valgrind, make bench)
 *
 * The tests reach it through run_jobrun (test/t/lib.sh), which sends a
 * debug-* command here and everything else to jobrun.
 */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "options.h"
#include "test-tool.h"

#define ENTRY(n, cmdname, sum) { cmdname, sum, usage_##n, cmd_##n, false, NULL }

static const struct command test_commands[] = {
	ENTRY(debug_http, "debug-http", "send requests through lib/http"),
	ENTRY(debug_pace, "debug-pace", "send paced requests through the rate limiter"),
	ENTRY(debug_provider, "debug-provider", "page a second, throwaway provider through lib/provider"),
	ENTRY(debug_work, "debug-work", "a job that only waits, for lock and signal tests"),
	ENTRY(debug_clock, "debug-clock", "run clock, tick or status on an injected wall clock"),
	{ NULL, NULL, NULL, NULL, false, NULL },
};

static const char main_usage[] =
	"usage: test-tool [--json] [-v|-q] [--max-runtime D] <command> [<args>]\n"
	"       test-tool help <command>\n";

static const struct command *find(const char *name)
{
	for (const struct command *c = test_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void print_help(void)
{
	printf("%s\nThe test helper: commands for jobrun's tests and benchmarks, which\n"
	       "build/jobrun does not ship. Exit codes and global options are jobrun's.\n\n"
	       "Commands:\n",
	       main_usage);
	for (const struct command *c = test_commands; c->name; c++)
		printf("  %-12s %s\n", c->name, c->summary);
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "test-tool: '%s' is not a test-tool command. See 'test-tool --help'.\n",
		name);
	return EXIT_USAGE;
}

static int help_command(const char *name)
{
	if (!name)
		return print_help(), EXIT_OK;
	const struct command *c = find(name);
	if (!c)
		return unknown_command(name);
	fputs(c->usage, stdout);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct global_options g = { 0 };
	int i = parse_global_options(argc, argv, &g, main_usage);
	if (i == OPTIONS_VERSION)
		return printf("test-tool (jobrun %s)\n", JOBRUN_VERSION), EXIT_OK;
	if (i == OPTIONS_HELP)
		return print_help(), EXIT_OK;
	if (i < 0)
		return EXIT_USAGE;
	if (i >= argc) {
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "help"))
		return help_command(i + 1 < argc ? argv[i + 1] : NULL);
	const struct command *c = find(argv[i]);
	if (!c)
		return unknown_command(argv[i]);
	if (http_global_init())
		return EXIT_FAILED;
	int code = c->run(argc - i, argv + i, &g);
	http_global_cleanup();
	return code;
}
