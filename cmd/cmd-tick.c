#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock_worker.h"
#include "commands.h"
#include "options.h"
#include "schedule_cmd.h"
#include "xalloc.h"

const char usage_tick[] =
	"usage: jobrun tick [--entry NAME[,NAME...]]... [--stop-timeout D]\n"
	"\n"
	"One pass of the clock, for Heroku Scheduler's \"every 10 minutes\": runs, as\n"
	"child processes, every entry of the schedule file that came due since the\n"
	"last tick or clock pass (the latest slot within the entry's grace; earlier\n"
	"ones coalesced, older ones recorded missed), waits for them, exits. Slots\n"
	"are claimed in Postgres, so overlapping ticks, or a tick and a clock, never\n"
	"run one twice. Keep the tick's interval below the entries' grace (15m).\n"
	"\n"
	"  --entry NAME       only these entries (repeatable, or a comma list): the\n"
	"                     Scheduler entries `schedule --heroku` prints, each at\n"
	"                     its entry's time; whichever of it and a plain tick\n"
	"                     claims the slot first runs it, once\n"
	"  --stop-timeout D   on SIGTERM/SIGINT, how long running entries get to stop\n"
	"                     before SIGKILL (default 25s)\n"
	"\n"
	"Exit codes: 0 every entry it started succeeded (or was skipped because\n"
	"another instance was running it), or nothing was due; 3 at least one ended\n"
	"partial or failed, or slots were recorded missed; 1 the database could not\n"
	"be used; 64 an --entry the schedule file does not have; 78 a bad schedule\n"
	"file or configuration; 143/130 stopped by a signal (forwarded to the\n"
	"entries).\n";

/* "a,b" "c" -> {"a","b","c"}, pointing into *text (the caller frees both). */
static int split_names(const struct opt_strings *in, char **text, const char ***names, int *n)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < in->n; i++)
		buf_addf(&b, "%s%s", i ? "," : "", in->v[i]);
	*text = buf_detach(&b);
	*names = xcalloc(strlen(*text) + 1, sizeof(**names));
	*n = 0;
	for (char *s = *text, *comma;; s = comma + 1) {
		comma = strchr(s, ',');
		if (comma)
			*comma = '\0';
		if (!*s)
			return usage_error(usage_tick, "--entry: an empty entry name");
		(*names)[(*n)++] = s;
		if (!comma)
			return 0;
	}
}

int cmd_tick(int argc, char **argv, struct global_options *g)
{
	struct clock_options o = { .what = "tick", .once = true,
				   .stop_timeout_s = CLOCK_DEFAULT_STOP_TIMEOUT_S };
	struct opt_strings entries = { NULL, 0 };
	const struct opt opts[] = { OPT_STRINGS("entry", &entries),
				    OPT_DURATION("stop-timeout", &o.stop_timeout_s),
				    OPT_TABLE_END };
	int n = parse_options(argc, argv, opts, g, usage_tick), code;
	char *text = NULL;
	const char **names = NULL;
	if (n < 0)
		code = options_exit_code(n);
	else if (n > 0)
		code = usage_error(usage_tick, "tick takes no arguments (--entry NAME names entries)");
	else if (entries.n && split_names(&entries, &text, &names, &o.n_only))
		code = EXIT_USAGE;
	else {
		o.only = names;
		code = schedule_cmd_clock(&o);
	}
	free(names);
	free(text);
	free(entries.v);
	return code;
}
