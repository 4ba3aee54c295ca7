/*
 * jobrun: main, global options and the command table.
 *
 * Each command lives in cmd/cmd-<name>.c and is listed once below, in the
 * order `jobrun --help` shows them.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "job.h"
#include "primecache.h"
#include "prune.h"
#include "http.h"
#include "options.h"

#define ENTRY(n, cmdname, sum) { cmdname, sum, usage_##n, cmd_##n, false, NULL }
/* A registered job: its summary comes from the registry (jobs/registry.c). */
#define JOB(n) { #n, NULL, usage_##n, cmd_##n, false, &n##_job }

const struct command commands[] = {
	JOB(primecache),
	ENTRY(migrate, "migrate", "apply the database schema (Procfile release phase)"),
	ENTRY(runs, "runs", "show run history"),
	JOB(prune),
	ENTRY(doctor, "doctor", "check configuration, database, schema and providers"),
	ENTRY(schedule, "schedule", "list the schedule's entries and next fire times; --heroku"),
	ENTRY(clock, "clock", "the always-on scheduler: run each schedule entry at its due time"),
	ENTRY(tick, "tick", "run the schedule entries that came due since the last tick, then exit"),
	ENTRY(status, "status", "per schedule entry: state, last run, last success, next due"),
	{ NULL, NULL, NULL, NULL, false, NULL },
};

static const char main_usage[] =
	"usage: jobrun [--json] [-v|-q] [--max-runtime D] <command> [<args>]\n"
	"       jobrun help <command> | jobrun --version\n";

static const char exit_codes[] =
	"Exit codes:\n"
	"  0    success\n"
	"  1    the run failed (database unreachable, fatal provider error, …)\n"
	"  3    the run finished, but some items failed or were left for the next run\n"
	"  64   usage error (unknown command or option, bad value)\n"
	"  75   skipped: another instance holds the lock, or the provider budget is spent\n"
	"  78   configuration error (a missing or malformed environment variable)\n"
	"  130  stopped by SIGINT\n"
	"  143  stopped by SIGTERM\n";

const struct command *command_find(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void print_help(void)
{
	printf("%s\njobrun runs scheduled jobs safely: one instance at a time, within the\n"
	       "providers' rate limits and a time budget, recorded in Postgres.\n\nCommands:\n",
	       main_usage);
	for (const struct command *c = commands; c->name; c++)
		if (!c->hidden)
			printf("  %-12s %s\n", c->name, c->job ? c->job->summary : c->summary);
	printf("\nGlobal options (before or after the command):\n"
	       "  --json             print one JSON summary object on stdout (logs go to stderr)\n"
	       "  -v, --verbose      more logging (debug); JOBRUN_LOG_LEVEL sets the base level\n"
	       "  -q, --quiet        less logging\n"
	       "  --max-runtime D    time budget, e.g. 9m (default JOBRUN_MAX_RUNTIME, else 9m)\n"
	       "  -h, --help         this help; `jobrun help <command>` for a command\n"
	       "  --version          print the version\n\n%s",
	       exit_codes);
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "jobrun: '%s' is not a jobrun command. See 'jobrun --help'.\n", name);
	const struct command *best = NULL;
	int best_d = 3;
	for (const struct command *c = commands; c->name; c++) {
		int d = edit_distance(name, c->name);
		if (!c->hidden && d < best_d)
			best_d = d, best = c;
	}
	if (best)
		fprintf(stderr, "\nThe most similar command is\n\t%s\n", best->name);
	return EXIT_USAGE;
}

static int help_command(const char *name)
{
	const struct command *c = command_find(name);
	if (!c)
		return unknown_command(name);
	fputs(c->usage, stdout);
	return EXIT_OK;
}

static void print_version(void)
{
	printf("jobrun %s (%s)\n", JOBRUN_VERSION, http_library_version());
}

int main(int argc, char **argv)
{
	struct global_options g = { 0 };
	/* Global options before the command; the command's parser takes the
	 * ones after it, with the same rules. */
	int i = parse_global_options(argc, argv, &g, main_usage);
	if (i == OPTIONS_VERSION)
		return print_version(), EXIT_OK;
	if (i == OPTIONS_HELP)
		return print_help(), EXIT_OK;
	if (i < 0)
		return EXIT_USAGE;
	if (i >= argc) {
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[i];
	if (!strcmp(name, "help"))
		return i + 1 < argc ? help_command(argv[i + 1]) : (print_help(), EXIT_OK);
	if (!strcmp(name, "version"))
		return print_version(), EXIT_OK;
	const struct command *c = command_find(name);
	if (!c)
		return unknown_command(name);
	if (http_global_init())
		return EXIT_FAILED;
	if (c->job)
		job_note_command_line(argc - i, argv + i);
	int code = c->run(argc - i, argv + i, &g);
	http_global_cleanup();
	return code;
}
