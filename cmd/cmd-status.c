#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "commands.h"
#include "cron.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "options.h"
#include "schedule.h"
#include "schedule_cmd.h"
#include "schedule_notify.h"
#include "schedule_state.h"
#include "schedule_status.h"

const char usage_status[] =
	"usage: jobrun status [--json] [--notify]\n"
	"\n"
	"Every entry of the schedule file: its state, schedule, last run (status,\n"
	"start, duration), last success and next due time. It reads jobrun.runs, so\n"
	"runs started by the clock, a tick, Heroku Scheduler or by hand all count\n"
	"(matched by the entry's name, or the name its command line derives).\n"
	"\n"
	"States: ok; running; late (its last due time plus its grace passed and no\n"
	"run started); missed (a clock or tick recorded its last slot missed: nothing\n"
	"ran within the grace); failing (its last run failed, or its process died:\n"
	"abandoned); paused; never run.\n"
	"\n"
	"  --json   one object: {\"entries\": [...], \"alarming\": N}\n"
	"  --notify also alert on late and missed entries (and their recovery) through\n"
	"           JOBRUN_WEBHOOK_URL and mail, once per problem: for setups that run\n"
	"           only Heroku Scheduler entries, one more entry every 10 minutes\n"
	"\n"
	"Exit codes: 0 nothing late, missed or failing; 3 at least one entry is;\n"
	"1 the database cannot be read; 78 a bad schedule file or configuration.\n";

static void print_run(const struct entry_facts *f, char *out, size_t len)
{
	char when[32];
	if (!f->last_id) {
		snprintf(out, len, "-");
		return;
	}
	schedule_time_text(f->last_start, when, sizeof(when));
	if (f->last_duration_s >= 0)
		snprintf(out, len, "%s %s %.1fs", f->last_status, when, f->last_duration_s);
	else
		snprintf(out, len, "%s %s", f->last_status, when);
}

static void print_row(const struct schedule_entry *e, const struct entry_facts *f,
		      enum entry_state st)
{
	char sched[160], run[96], ok[32], next[32];
	snprintf(sched, sizeof(sched), "%s (%s)", cron_spec(e->expr), cron_zone(e->expr));
	print_run(f, run, sizeof(run));
	schedule_time_text(f->last_success, ok, sizeof(ok));
	schedule_time_text(f->next_due, next, sizeof(next));
	printf("%-28s %-9s %-32s %-44s %-20s  %s\n", e->name, entry_state_name(st), sched, run, ok,
	       next);
}

static int report(const struct schedule *s, struct db *db, bool json, int *alarming)
{
	long long now = (long long)floor(clock_wall());
	json_t *list = json ? json_array() : NULL;
	if (!json)
		printf("%-28s %-9s %-32s %-44s %-20s  %s\n", "ENTRY", "STATE", "SCHEDULE", "LAST RUN",
		       "LAST SUCCESS", "NEXT DUE");
	for (size_t i = 0; i < s->n; i++) {
		const struct schedule_entry *e = &s->entries[i];
		struct entry_facts f;
		if (entry_facts_read(db, e, now, &f)) {
			json_decref(list);
			return -1;
		}
		enum entry_state st = entry_state_decide(e->expr, &f, now, e->grace_s);
		*alarming += entry_state_alarming(st);
		if (json)
			json_array_append_new(list, entry_status_json(e, &f, st));
		else
			print_row(e, &f, st);
	}
	if (json) {
		json_t *o = json_pack("{s:o, s:i}", "entries", list, "alarming", *alarming);
		char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(o);
	}
	return 0;
}

int cmd_status(int argc, char **argv, struct global_options *g)
{
	bool notify = false;
	const struct opt opts[] = { OPT_FLAG("notify", 0, &notify), OPT_TABLE_END };
	int n = parse_options(argc, argv, opts, g, usage_status);
	if (n < 0)
		return options_exit_code(n);
	if (n > 0)
		return usage_error(usage_status, "status takes no arguments");
	struct schedule s;
	int code = schedule_cmd_load(&s);
	if (code)
		return code;
	struct notify nc = { 0 };
	if (notify && notify_config_from_env(&nc)) {
		schedule_release(&s);
		return exit_code_for_error();
	}
	struct db *db = NULL;
	int alarming = 0;
	if (schedule_db_open(&db) || report(&s, db, g->json, &alarming))
		code = exit_code_for_error();
	else
		code = alarming ? EXIT_PARTIAL : EXIT_OK;
	/* Alerts never change what status says, nor its exit code. */
	if (notify && (code == EXIT_OK || code == EXIT_PARTIAL))
		schedule_notify_pass(&s, db, &nc, (long long)floor(clock_wall()));
	notify_release(&nc);
	db_close(db);
	schedule_release(&s);
	return code;
}
