/*
 * Option parsing shared by every command, in the spirit of git's
 * parse-options: a declarative table per command, global options accepted
 * anywhere, "did you mean" for near misses.
 */
#ifndef JOBRUN_OPTIONS_H
#define JOBRUN_OPTIONS_H

#include "commands.h"

enum opt_type {
	OPT_FLAG,     /* bool */
	OPT_STRING,   /* const char * (points into argv) */
	OPT_LONG,     /* long, >= 0 */
	OPT_DURATION, /* double seconds, "90s" / "9m" / "2h" / "30d" */
	OPT_STRINGS,  /* struct opt_strings: every value of a repeated option, in order */
	OPT_END,
};

/* A repeatable option's values (pointing into argv); the array is the
 * command's to free. */
struct opt_strings {
	const char **v;
	int n;
};

struct opt {
	const char *long_name; /* without the dashes */
	char short_name;       /* 0 for none */
	enum opt_type type;
	void *value;
	bool *was_set;         /* optional */
};

#define OPT_FLAG(l, s, v) { (l), (s), OPT_FLAG, (v), NULL }
#define OPT_STRING(l, v) { (l), 0, OPT_STRING, (v), NULL }
#define OPT_LONG(l, v) { (l), 0, OPT_LONG, (v), NULL }
#define OPT_DURATION(l, v) { (l), 0, OPT_DURATION, (v), NULL }
#define OPT_STRINGS(l, v) { (l), 0, OPT_STRINGS, (v), NULL }
#define OPT_TABLE_END { NULL, 0, OPT_END, NULL, NULL }

#define OPTIONS_HELP (-2)
#define OPTIONS_ERROR (-1)
#define OPTIONS_CONFIG (-3)
#define OPTIONS_VERSION (-4)

/* Heroku Scheduler ends a dyno at its interval; 9 minutes leaves room to stop. */
#define DEFAULT_MAX_RUNTIME_S (9 * 60.0)

/* Parse argv[1..argc) against opts plus the global options. Positional
 * arguments are moved to argv[1..n] and n is returned. On --help the usage
 * is printed to stdout and OPTIONS_HELP returned; on a bad option a message
 * goes to stderr and OPTIONS_ERROR is returned; a bad JOBRUN_LOG_LEVEL or
 * JOBRUN_MAX_RUNTIME gives OPTIONS_CONFIG. Afterwards logging is set up and
 * g->max_runtime_s holds the budget (flag, else environment, else 9m). */
int parse_options(int argc, char **argv, const struct opt *opts, struct global_options *g,
		  const char *usage);
/* The global options before the command name (`jobrun --json -v primecache`),
 * with the parser parse_options() uses after it, so both places accept the
 * same spellings. Returns the index of the command name (argc when none),
 * OPTIONS_HELP for -h/--help and OPTIONS_VERSION for --version (nothing
 * printed: main prints the full help), or OPTIONS_ERROR (reported). Logging
 * and the environment's budget are applied later, by the command's
 * parse_options(). */
int parse_global_options(int argc, char **argv, struct global_options *g, const char *usage);
/* The exit code for a negative parse_options() result. */
int options_exit_code(int parse_result);
/* Print "jobrun: <msg>" and the usage hint to stderr; returns EXIT_USAGE. */
int usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Levenshtein distance, for suggestions. */
int edit_distance(const char *a, const char *b);

#endif
