#include <stddef.h>

#include "clock_worker.h"
#include "commands.h"
#include "options.h"
#include "schedule_cmd.h"

const char usage_tick[] =
	"usage: jobrun tick [--stop-timeout D]\n"
	"\n"
	"One pass of the clock, for Heroku Scheduler's \"every 10 minutes\": runs, as\n"
	"child processes, every entry of the schedule file that came due since the\n"
	"last tick or clock pass (the latest slot within the entry's grace; earlier\n"
	"ones coalesced, older ones recorded missed), waits for them, exits. Slots\n"
	"are claimed in Postgres, so overlapping ticks, or a tick and a clock, never\n"
	"run one twice. Keep the tick's interval below the entries' grace (15m).\n"
	"\n"
	"  --stop-timeout D   on SIGTERM/SIGINT, how long running entries get to stop\n"
	"                     before SIGKILL (default 25s)\n"
	"\n"
	"Exit codes: 0 every entry it started succeeded (or was skipped because\n"
	"another instance was running it), or nothing was due; 3 at least one ended\n"
	"partial or failed, or slots were recorded missed; 1 the database could not\n"
	"be used; 78 a bad schedule file or configuration; 143/130 stopped by a\n"
	"signal (forwarded to the entries).\n";

int cmd_tick(int argc, char **argv, struct global_options *g)
{
	struct clock_options o = { .what = "tick", .once = true,
				   .stop_timeout_s = CLOCK_DEFAULT_STOP_TIMEOUT_S };
	const struct opt opts[] = { OPT_DURATION("stop-timeout", &o.stop_timeout_s),
				    OPT_TABLE_END };
	int n = parse_options(argc, argv, opts, g, usage_tick);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_tick, "tick takes no arguments");
	return schedule_cmd_clock(&o);
}
