#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "xalloc.h"

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

/* The text table: every row is formatted before any is printed, so each
 * column is as wide as its widest cell (a zoned schedule can be twice the
 * usual) and every row's columns start where the header's do. */
enum { COL_ENTRY, COL_STATE, COL_SCHEDULE, COL_LAST_RUN, COL_LAST_SUCCESS, COL_NEXT_DUE, N_COLS };
static const char *const column_names[N_COLS] = { "ENTRY",    "STATE",        "SCHEDULE",
						   "LAST RUN", "LAST SUCCESS", "NEXT DUE" };
typedef char *table_row[N_COLS]; /* owned strings */

static char *run_text(const struct entry_facts *f)
{
	char when[32];
	if (!f->last_id)
		return xstrdup("-");
	schedule_time_text(f->last_start, when, sizeof(when));
	if (f->last_duration_s >= 0)
		return xasprintf("%s %s %.1fs", f->last_status, when, f->last_duration_s);
	return xasprintf("%s %s", f->last_status, when);
}

static void row_fill(table_row row, const struct schedule_entry *e, const struct entry_facts *f,
		     enum entry_state st)
{
	char ok[32], next[32];
	schedule_time_text(f->last_success, ok, sizeof(ok));
	schedule_time_text(f->next_due, next, sizeof(next));
	row[COL_ENTRY] = xstrdup(e->name);
	row[COL_STATE] = xstrdup(entry_state_name(st));
	row[COL_SCHEDULE] = xasprintf("%s (%s)", cron_spec(e->expr), cron_zone(e->expr));
	row[COL_LAST_RUN] = run_text(f);
	row[COL_LAST_SUCCESS] = xstrdup(ok);
	row[COL_NEXT_DUE] = xstrdup(next);
}

/* Two spaces between columns; the last one is not padded. */
static void row_print(const char *const *cells, const int *width)
{
	for (int c = 0; c < N_COLS - 1; c++)
		printf("%-*s  ", width[c], cells[c]);
	printf("%s\n", cells[N_COLS - 1]);
}

static void table_print(table_row *rows, size_t n)
{
	int width[N_COLS];
	for (int c = 0; c < N_COLS; c++) {
		width[c] = (int)strlen(column_names[c]);
		for (size_t r = 0; r < n; r++)
			if ((int)strlen(rows[r][c]) > width[c])
				width[c] = (int)strlen(rows[r][c]);
	}
	row_print(column_names, width);
	for (size_t r = 0; r < n; r++)
		row_print((const char *const *)rows[r], width);
}

static void table_free(table_row *rows, size_t n)
{
	for (size_t r = 0; r < n; r++)
		for (int c = 0; c < N_COLS; c++)
			free(rows[r][c]);
	free(rows);
}

static int report(const struct schedule *s, struct db *db, bool json, int *alarming)
{
	long long now = (long long)floor(clock_wall());
	json_t *list = json ? json_array() : NULL;
	table_row *rows = json ? NULL : xcalloc(s->n ? s->n : 1, sizeof(*rows));
	int rc = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct schedule_entry *e = &s->entries[i];
		struct entry_facts f;
		if (entry_facts_read(db, e, now, &f)) {
			rc = -1;
			goto out;
		}
		enum entry_state st = entry_state_decide(e->expr, &f, now, e->grace_s);
		*alarming += entry_state_alarming(st);
		if (json)
			json_array_append_new(list, entry_status_json(e, &f, st));
		else
			row_fill(rows[i], e, &f, st);
	}
	if (json) {
		json_t *o = json_pack("{s:O, s:i}", "entries", list, "alarming", *alarming);
		char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(o);
	} else {
		table_print(rows, s->n);
	}
out:
	json_decref(list);
	if (rows)
		table_free(rows, s->n);
	return rc;
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
