/*
 * jobrun clock: the always-on scheduler (Procfile `clock:`), and what it
 * shares with tick and with `schedule pause|resume|run`.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "clock_worker.h"
#include "commands.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "options.h"
#include "schedule.h"
#include "schedule_cmd.h"
#include "schedule_state.h"

const char usage_clock[] =
	"usage: jobrun clock [--stop-timeout D]\n"
	"\n"
	"The always-on scheduler (Procfile `clock: jobrun clock`). Fires every entry\n"
	"of the schedule file (JOBRUN_SCHEDULE, default jobrun.cron) at its due time\n"
	"as a child process `jobrun <its command line>`, whose output passes through.\n"
	"Each slot (entry, due time) is claimed in Postgres before it runs, so two\n"
	"clocks, or a clock and `jobrun tick`, never run one twice: a second clock\n"
	"is a hot spare. On start it catches up from the database: the latest slot\n"
	"missed within the entry's grace (default 15m) runs once, earlier ones are\n"
	"coalesced into it, older ones are recorded missed (`jobrun status`). A slot\n"
	"whose entry is still running from the previous one is recorded skipped.\n"
	"The file is read once, at start: a deploy restarts the clock.\n"
	"\n"
	"  --stop-timeout D   on SIGTERM/SIGINT, how long running entries get to stop\n"
	"                     after the signal is forwarded, before SIGKILL\n"
	"                     (default 25s; Heroku kills the dyno 30 s after SIGTERM)\n"
	"\n"
	"Exit codes: 143 after SIGTERM, 130 after SIGINT, 78 for a bad schedule file\n"
	"or configuration, 1 when the database cannot be used at start.\n";

int schedule_cmd_load(struct schedule *s)
{
	if (schedule_load(schedule_path(), s))
		return exit_code_for_error();
	return 0;
}

static int unknown_entry(const struct schedule *s, const char *name, const char *usage);

static int clock_exit_code(const struct clock_options *o, const struct clock_result *r)
{
	if (r->stop_signal)
		return r->stop_signal == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM;
	if (!o->once)
		return EXIT_OK;
	return r->failed || r->partial || r->missed ? EXIT_PARTIAL : EXIT_OK;
}

int schedule_cmd_clock(const struct clock_options *o)
{
	struct schedule s;
	int code = schedule_cmd_load(&s);
	if (code)
		return code;
	for (int i = 0; i < o->n_only; i++)
		if (!schedule_find(&s, o->only[i])) {
			code = unknown_entry(&s, o->only[i], usage_tick); /* only tick has --entry */
			schedule_release(&s);
			return code;
		}
	/* Late and missed entries are told through the notification
	 * settings; a malformed one is exit 78 before anything runs. */
	struct notify n;
	if (notify_config_from_env(&n)) {
		schedule_release(&s);
		return exit_code_for_error();
	}
	struct clock_options with = *o;
	with.notify = &n;
	o = &with;
	struct clock_result r;
	if (clock_run(&s, o, &r))
		code = exit_code_for_error();
	else
		code = clock_exit_code(o, &r);
	if (o->once)
		log_info("tick finished", LF_I("started", r.started), LF_I("succeeded", r.succeeded),
			 LF_I("partial", r.partial), LF_I("failed", r.failed),
			 LF_I("skipped", r.skipped), LF_I("missed", r.missed), LF_I("exit", code));
	else
		log_info("clock stopped", LF_I("started", r.started), LF_I("exit", code));
	schedule_release(&s);
	notify_release(&n);
	return code;
}

int cmd_clock(int argc, char **argv, struct global_options *g)
{
	struct clock_options o = { .what = "clock", .stop_timeout_s = CLOCK_DEFAULT_STOP_TIMEOUT_S };
	const struct opt opts[] = { OPT_DURATION("stop-timeout", &o.stop_timeout_s),
				    OPT_TABLE_END };
	int n = parse_options(argc, argv, opts, g, usage_clock);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_clock, "clock takes no arguments");
	return schedule_cmd_clock(&o);
}

/* ---- schedule pause|resume|run NAME ------------------------------------ */

static int unknown_entry(const struct schedule *s, const char *name, const char *usage)
{
	char names[1024] = "";
	size_t len = 0;
	for (size_t i = 0; i < s->n && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
					s->entries[i].name);
	return usage_error(usage, "no entry named '%s' in %s (entries: %s)", name, s->path,
			   s->n ? names : "none");
}

static int pause_or_resume(const char *verb, const char *name)
{
	struct db *db;
	if (schedule_db_open(&db))
		return exit_code_for_error();
	bool changed = false;
	int rc;
	if (!strcmp(verb, "pause")) {
		char who[384];
		schedule_who("pause", who, sizeof(who));
		rc = schedule_pause(db, name, who, &changed);
	} else {
		rc = schedule_resume(db, name, &changed);
	}
	db_close(db);
	if (rc)
		return exit_code_for_error();
	log_info(!strcmp(verb, "pause") ? (changed ? "entry paused" : "entry was already paused")
					: (changed ? "entry resumed" : "entry was not paused"),
		 LF_S("entry", name));
	return EXIT_OK;
}

int schedule_cmd_verb(int argc, char **argv, const char *usage)
{
	const char *verb = argv[0];
	if (argc != 2)
		return usage_error(usage, "%s takes one entry name", verb);
	struct schedule s;
	int code = schedule_cmd_load(&s);
	if (code)
		return code;
	const struct schedule_entry *e = schedule_find(&s, argv[1]);
	if (!e)
		code = unknown_entry(&s, argv[1], usage);
	else if (!strcmp(verb, "run"))
		code = clock_exec_entry(e) ? EXIT_FAILED : EXIT_OK; /* returns only on failure */
	else
		code = pause_or_resume(verb, e->name);
	schedule_release(&s);
	return code;
}
