#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "xalloc.h"

/* Global options, accepted by every command. */
static const char *const global_names[] = { "json", "verbose", "quiet", "max-runtime", "help" };

int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	int prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(prev));
	}
	return prev[lb];
}

int usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	fputs("jobrun: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (usage) {
		/* The first line of a usage text is its synopsis. */
		const char *nl = strchr(usage, '\n');
		fprintf(stderr, "%.*s\n", nl ? (int)(nl - usage) : (int)strlen(usage), usage);
	}
	return EXIT_USAGE;
}

int options_exit_code(int parse_result)
{
	if (parse_result == OPTIONS_HELP)
		return EXIT_OK;
	return parse_result == OPTIONS_CONFIG ? EXIT_CONFIG : EXIT_USAGE;
}

static void suggest(const char *name, const struct opt *opts)
{
	const char *best = NULL;
	int best_d = 3;
	for (const struct opt *o = opts; o && o->type != OPT_END; o++) {
		int d = edit_distance(name, o->long_name);
		if (d < best_d)
			best_d = d, best = o->long_name;
	}
	for (size_t i = 0; i < sizeof(global_names) / sizeof(global_names[0]); i++) {
		int d = edit_distance(name, global_names[i]);
		if (d < best_d)
			best_d = d, best = global_names[i];
	}
	if (best)
		fprintf(stderr, "jobrun: did you mean '--%s'?\n", best);
}

static int set_value(const struct opt *o, const char *value, const char *usage)
{
	char *end;
	switch (o->type) {
	case OPT_FLAG:
		*(bool *)o->value = true;
		break;
	case OPT_STRING:
		*(const char **)o->value = value;
		break;
	case OPT_STRINGS: {
		struct opt_strings *list = o->value;
		list->v = xrealloc(list->v, (size_t)(list->n + 1) * sizeof(*list->v));
		list->v[list->n++] = value;
		break;
	}
	case OPT_LONG: {
		errno = 0;
		long n = strtol(value, &end, 10);
		if (errno || end == value || *end || n < 0)
			return usage_error(usage, "--%s: expected a whole number >= 0, got '%s'",
					   o->long_name, value);
		*(long *)o->value = n;
		break;
	}
	case OPT_DURATION:
		if (parse_duration(value, (double *)o->value))
			return usage_error(usage, "--%s: invalid duration '%s' (use e.g. 90s, 9m, 2h, 30d)",
					   o->long_name, value);
		break;
	case OPT_END:
		break;
	}
	if (o->was_set)
		*o->was_set = true;
	return 0;
}

/* --name, --name=value or --name value. */
static const struct opt *find_long(const struct opt *opts, const char *name, size_t len)
{
	for (const struct opt *o = opts; o && o->type != OPT_END; o++)
		if (strlen(o->long_name) == len && !strncmp(o->long_name, name, len))
			return o;
	return NULL;
}

static const struct opt *find_short(const struct opt *opts, char c)
{
	for (const struct opt *o = opts; o && o->type != OPT_END; o++)
		if (o->short_name && o->short_name == c)
			return o;
	return NULL;
}

/* --max-runtime D: a budget of 0 would silently mean "none" (deadline_start
 * treats <= 0 as no deadline); a run without a budget is not an option. */
static int set_max_runtime(const char *v, struct global_options *g, const char *usage)
{
	if (!v)
		return usage_error(usage, "--max-runtime needs a value");
	if (parse_duration(v, &g->max_runtime_s))
		return usage_error(usage, "--max-runtime: invalid duration '%s'", v);
	if (g->max_runtime_s <= 0)
		return usage_error(usage, "--max-runtime: must be more than 0, got '%s'", v);
	g->max_runtime_set = true;
	return 0;
}

/* The global option at argv[*i]: 0 when taken, 1 when it is not a global
 * option, OPTIONS_HELP, or OPTIONS_ERROR (reported). */
static int take_global(int argc, char **argv, int *i, struct global_options *g, const char *usage)
{
	const char *arg = argv[*i];
	if (!strcmp(arg, "--json")) {
		g->json = true;
	} else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
		g->verbosity++;
	} else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
		g->verbosity--;
	} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		return OPTIONS_HELP;
	} else if (!strncmp(arg, "--max-runtime", 13) && (arg[13] == '=' || !arg[13])) {
		const char *v = arg[13] == '=' ? arg + 14 : (*i + 1 < argc ? argv[++*i] : NULL);
		if (set_max_runtime(v, g, usage))
			return OPTIONS_ERROR;
	} else {
		return 1;
	}
	return 0;
}

int parse_global_options(int argc, char **argv, struct global_options *g, const char *usage)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version"))
			return OPTIONS_VERSION;
		int r = take_global(argc, argv, &i, g, usage);
		if (r < 0)
			return r;
		if (r > 0) {
			usage_error(usage, "unknown option '%s'", argv[i]);
			return OPTIONS_ERROR;
		}
	}
	return i;
}

static int take_option(const char *arg, int argc, char **argv, int *i, const struct opt *opts,
		       const char *usage)
{
	const struct opt *o;
	const char *inline_value = NULL;
	if (arg[1] == '-') {
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		o = find_long(opts, name, len);
		inline_value = eq ? eq + 1 : NULL;
		if (!o) {
			usage_error(usage, "unknown option '--%.*s'", (int)len, name);
			char guess[64];
			snprintf(guess, sizeof(guess), "%.*s", (int)(len < 63 ? len : 63), name);
			suggest(guess, opts);
			return OPTIONS_ERROR;
		}
	} else {
		o = arg[2] ? NULL : find_short(opts, arg[1]);
		if (!o) {
			usage_error(usage, "unknown option '%s'", arg);
			return OPTIONS_ERROR;
		}
	}
	if (o->type == OPT_FLAG) {
		if (inline_value) {
			usage_error(usage, "--%s takes no value", o->long_name);
			return OPTIONS_ERROR;
		}
		return set_value(o, NULL, usage) ? OPTIONS_ERROR : 0;
	}
	const char *v = inline_value ? inline_value : (*i + 1 < argc ? argv[++*i] : NULL);
	if (!v) {
		usage_error(usage, "--%s needs a value", o->long_name);
		return OPTIONS_ERROR;
	}
	return set_value(o, v, usage) ? OPTIONS_ERROR : 0;
}

/* Logging and the time budget, now that -v/-q/--json/--max-runtime are known. */
static int apply_globals(struct global_options *g)
{
	enum log_level level = LOG_INFO;
	const char *env = config_get("JOBRUN_LOG_LEVEL");
	log_setup(LOG_INFO, g->json);
	if (env && log_parse_level(env, &level))
		return config_error("JOBRUN_LOG_LEVEL: expected debug, info, warn, error or quiet, got '%s'",
				    env);
	int adjusted = (int)level - g->verbosity;
	if (adjusted < LOG_DEBUG)
		adjusted = LOG_DEBUG;
	if (adjusted > LOG_QUIET)
		adjusted = LOG_QUIET;
	log_setup((enum log_level)adjusted, g->json);
	if (g->max_runtime_set)
		return 0;
	if (config_get_duration("JOBRUN_MAX_RUNTIME", DEFAULT_MAX_RUNTIME_S, &g->max_runtime_s))
		return -1;
	if (g->max_runtime_s <= 0)
		return config_error("JOBRUN_MAX_RUNTIME: must be more than 0, got '%s'",
				    config_get("JOBRUN_MAX_RUNTIME"));
	return 0;
}

int parse_options(int argc, char **argv, const struct opt *opts, struct global_options *g,
		  const char *usage)
{
	int npos = 0;
	bool only_positional = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (only_positional || arg[0] != '-' || !arg[1]) {
			argv[++npos] = argv[i];
			continue;
		}
		if (!strcmp(arg, "--")) {
			only_positional = true;
			continue;
		}
		int r = take_global(argc, argv, &i, g, usage);
		if (r == OPTIONS_HELP) {
			fputs(usage, stdout);
			return OPTIONS_HELP;
		}
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		if (take_option(arg, argc, argv, &i, opts, usage))
			return OPTIONS_ERROR;
	}
	if (apply_globals(g))
		return OPTIONS_CONFIG;
	return npos;
}
