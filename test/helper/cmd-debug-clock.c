/*
 * debug-clock: run clock, tick or status on an injected wall clock, so no
 * test waits for a real minute. The clock starts at --at and runs --rate
 * times faster than real time (lib/clock's override, and the worker's
 * sleeps shrink by the same factor, jobs/clock_worker.h); the monotonic
 * clock stays real, so stop timeouts are real seconds as on Heroku.
 * Children are the real jobrun (--jobrun, default: `jobrun` next to this
 * binary), which records its runs on the real clock.
 *
 *	test-tool debug-clock --at 2026-03-01T01:59:58Z --rate 60 -- clock
 *	test-tool debug-clock --at 2026-03-01T02:20:00Z -- status --json
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "clock_worker.h"
#include "commands.h"
#include "options.h"
#include "test-tool.h"

const char usage_debug_clock[] =
	"usage: test-tool debug-clock [--at TIME] [--rate R] [--since REAL] [--jobrun PATH]\n"
	"                             -- <clock|tick|status> [<args>]\n"
	"\n"
	"Run a schedule command on an injected wall clock: it reads TIME (RFC 3339\n"
	"UTC, e.g. 2026-03-01T02:00:00Z, or Unix seconds; default now) at the real\n"
	"time REAL (Unix seconds; default: at start) and runs R times faster than\n"
	"real time (default 1). Children run PATH.\n";

static double at_wall, real0, rate = 1;

static double real_mono(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double real_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A function of the real wall clock, so processes given the same --at and
 * --since read the same time and wake at the same instants (races). */
static double fake_wall(void *ctx)
{
	(void)ctx;
	return at_wall + (real_wall() - real0) * rate;
}

static void real_sleep(void *ctx, double s)
{
	(void)ctx;
	if (!(s > 0))
		return;
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };
	nanosleep(&ts, NULL);
}

static const struct clock_source fake = { real_mono, fake_wall, real_sleep, NULL };

static int parse_time(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (*s && !*end) {
		*out = v;
		return 0;
	}
	struct tm tm = { 0 };
	char z = 0;
	if (sscanf(s, "%d-%d-%dT%d:%d:%d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, &z) != 7 || z != 'Z')
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (double)timegm(&tm);
	return 0;
}

/* `jobrun` next to this binary: build/asan/test-tool runs build/asan/jobrun. */
static void sibling_jobrun(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		slash[1] = '\0';
	if ((size_t)snprintf(out, len, "%sjobrun", slash ? self : "") >= len)
		snprintf(out, len, "jobrun");
}

int cmd_debug_clock(int argc, char **argv, struct global_options *g)
{
	const char *at = NULL, *rate_text = NULL, *jobrun = NULL, *since = NULL;
	const struct opt opts[] = { OPT_STRING("at", &at), OPT_STRING("rate", &rate_text),
				    OPT_STRING("jobrun", &jobrun), OPT_STRING("since", &since),
				    OPT_TABLE_END };
	int n = parse_options(argc, argv, opts, g, usage_debug_clock);
	if (n < 0)
		return options_exit_code(n);
	if (n < 1)
		return usage_error(usage_debug_clock, "which command?");
	real0 = at_wall = real_wall();
	if (at && parse_time(at, &at_wall))
		return usage_error(usage_debug_clock, "--at: not a time: '%s'", at);
	if (since && parse_time(since, &real0))
		return usage_error(usage_debug_clock, "--since: not a time: '%s'", since);
	if (rate_text && !((rate = strtod(rate_text, NULL)) > 0))
		return usage_error(usage_debug_clock, "--rate must be above 0");
	static char exe[PATH_MAX];
	if (jobrun)
		snprintf(exe, sizeof(exe), "%s", jobrun);
	else
		sibling_jobrun(exe, sizeof(exe));
	clock_override(&fake);
	clock_set_hooks(&(struct clock_hooks){ .exe = exe, .rate = rate });
	const char *cmd = argv[1];
	int (*run)(int, char **, struct global_options *) =
		!strcmp(cmd, "clock")	 ? cmd_clock
		: !strcmp(cmd, "tick")	 ? cmd_tick
		: !strcmp(cmd, "status") ? cmd_status
					 : NULL;
	if (!run)
		return usage_error(usage_debug_clock, "'%s' is not clock, tick or status", cmd);
	return run(n, argv + 1, g);
}
