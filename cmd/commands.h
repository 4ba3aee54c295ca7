/*
 * The command table's entries. Each cmd/cmd-<name>.c exports one
 * cmd_<name>() and its usage text; cmd/jobrun.c collects them in one table.
 *
 * A command gets its own argv (argv[0] is the command name), parses its
 * options with parse_options(), and returns the process exit code.
 */
#ifndef JOBRUN_COMMANDS_H
#define JOBRUN_COMMANDS_H

#include <stdbool.h>

/* Exit codes (documented in `jobrun --help` and README). */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_PARTIAL = 3,
	EXIT_USAGE = 64,
	EXIT_SKIPPED = 75,
	EXIT_CONFIG = 78,
	EXIT_SIGINT = 130,
	EXIT_SIGTERM = 143,
};

/* Options every command accepts, before or after the command name. */
struct global_options {
	bool json;
	int verbosity;        /* -v: +1, -q: -1 */
	double max_runtime_s; /* --max-runtime, else JOBRUN_MAX_RUNTIME, else 9m */
	bool max_runtime_set;
};

struct job;

struct command {
	const char *name;
	const char *summary; /* one line for `jobrun --help` */
	const char *usage;   /* full text for `jobrun help CMD` */
	int (*run)(int argc, char **argv, struct global_options *g);
	bool hidden;         /* not listed by --help */
	const struct job *job; /* the registry entry a job command runs; NULL for the rest */
};

extern const struct command commands[];
enum run_status;
/* The exit code for a finished run's status (interrupted: by signal or deadline). */
int exit_code_for_run(enum run_status status);
/* The exit code for the last error(): 78 for configuration, else 1. */
int exit_code_for_error(void);
struct task;
struct task_options;
/* task_begin() as every job command needs it; takes over to->args. 0 when
 * the task started; otherwise the task is already released and *code is the
 * exit code (75 when another instance holds the lock, 78 or 1 on error). */
int command_start_task(struct task *t, struct task_options *to, int *code);
const struct command *command_find(const char *name);
/* Run a registered job with its parsed options: the whole lifecycle
 * (cmd/job_main.c). Returns the exit code. */
int job_main(const struct job *job, void *opts, const struct global_options *g);
/* main() hands a job command's own argv here before parsing it, so its run
 * record names the schedule entry it derives (cmd/job_main.c). */
void job_note_command_line(int argc, char **argv);

#define DECLARE_COMMAND(name)                                                      \
	int cmd_##name(int argc, char **argv, struct global_options *g);           \
	extern const char usage_##name[]

DECLARE_COMMAND(migrate);
DECLARE_COMMAND(runs);
DECLARE_COMMAND(prune);
DECLARE_COMMAND(doctor);
DECLARE_COMMAND(primecache);
DECLARE_COMMAND(schedule);
DECLARE_COMMAND(clock);
DECLARE_COMMAND(tick);
DECLARE_COMMAND(status);

#endif
